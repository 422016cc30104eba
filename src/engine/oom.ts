/**
 * Why a run failed, for every trainer: the one table of out-of-memory messages (a user's command, a
 * TF.js worker that died, an error thrown inside a TF.js run), and the order in which the evidence (our
 * own kills, the messages, the exit status) decides the outcome. A failure that matches nothing here is
 * an 'error', shown with its stderr tail: a crash must never be read as "too big", or find-max would
 * quietly answer a smaller batch for a bug.
 */
import { BatchlabError, DivergedError, type ErrorCode, isKnownError } from '../core/errors.js';
import { type OomFigures, parseOomMessage } from '../core/oom-message.js';

/** One known allocator failure. `example` is a real message, used by the tests. */
export interface OomPattern {
  name: string;
  /** Where the message comes from. */
  source: string;
  pattern: RegExp;
  example: string;
}

/**
 * Out-of-memory messages by framework. Each is specific enough that ordinary output does not match
 * (there is deliberately no bare "out of memory").
 */
export const OOM_PATTERNS: readonly OomPattern[] = [
  {
    name: 'cuda',
    source: 'PyTorch CUDA caching allocator',
    pattern: /CUDA out of memory/i,
    example:
      'torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 79.15 GiB total capacity; 77.01 GiB already allocated)',
  },
  {
    name: 'cuda-runtime',
    source: 'CUDA runtime (PyTorch, CuPy, ...)',
    pattern: /CUDA error: out of memory|cudaErrorMemoryAllocation/,
    example: 'RuntimeError: CUDA error: out of memory',
  },
  {
    name: 'cudnn',
    source: 'cuDNN (workspace could not be allocated)',
    pattern: /CUDNN_STATUS_NOT_SUPPORTED|CUDNN_STATUS_ALLOC_FAILED/,
    example:
      'RuntimeError: cuDNN error: CUDNN_STATUS_NOT_SUPPORTED. This error may appear if you passed in a non-contiguous input.',
  },
  {
    name: 'cublas',
    source: 'cuBLAS handle or workspace',
    pattern: /CUBLAS_STATUS_ALLOC_FAILED/,
    example: 'RuntimeError: CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`',
  },
  {
    name: 'cpu-allocator',
    source: 'PyTorch CPU allocator',
    pattern: /DefaultCPUAllocator: (?:can't|not enough memory)/,
    example:
      "RuntimeError: [enforce fail at alloc_cpu.cpp:83] data. DefaultCPUAllocator: can't allocate memory: you tried to allocate 4294967296 bytes. Error code 12 (Cannot allocate memory)",
  },
  {
    name: 'hip',
    source: 'PyTorch ROCm / HIP',
    pattern: /HIP out of memory|hipErrorOutOfMemory/,
    example: 'torch.OutOfMemoryError: HIP out of memory. Tried to allocate 1.00 GiB (GPU 0; 63.98 GiB total capacity)',
  },
  {
    name: 'xpu',
    source: 'PyTorch Intel XPU',
    pattern: /XPU out of memory/,
    example:
      'torch.OutOfMemoryError: XPU out of memory. Tried to allocate 512.00 MiB (GPU 0; 15.56 GiB total capacity)',
  },
  {
    name: 'mps',
    source: 'PyTorch Apple MPS',
    pattern: /MPS backend out of memory/,
    example:
      'RuntimeError: MPS backend out of memory (MPS allocated: 17.80 GB, other allocations: 1.20 GB, max allowed: 18.13 GB).',
  },
  {
    name: 'xla',
    source: 'XLA (JAX, TF/XLA, PyTorch/XLA)',
    pattern: /RESOURCE_EXHAUSTED/,
    example:
      'jaxlib.xla_extension.XlaRuntimeError: RESOURCE_EXHAUSTED: Out of memory while trying to allocate 8589934592 bytes.',
  },
  {
    name: 'tensorflow',
    source: 'TensorFlow / Keras',
    pattern: /OOM when allocating|ResourceExhaustedError/,
    example:
      'tensorflow.python.framework.errors_impl.ResourceExhaustedError: OOM when allocating tensor with shape[4096,4096] and type float on /job:localhost/replica:0/task:0/device:GPU:0',
  },
  {
    name: 'python',
    source: 'Python and NumPy',
    pattern: /^(?:\w+\.)*\w*MemoryError\b|Unable to allocate [\d.]+ [KMGTP]?i?B for an array/m,
    example:
      'numpy.core._exceptions._ArrayMemoryError: Unable to allocate 7.45 GiB for an array with shape (1000000000,) and data type float64',
  },
  {
    name: 'cpp',
    source: 'C++ new (native extensions)',
    pattern: /std::bad_alloc/,
    example: "terminate called after throwing an instance of 'std::bad_alloc'\n  what():  std::bad_alloc",
  },
  {
    name: 'v8-heap',
    source: 'Node.js / V8 heap',
    pattern: /JavaScript heap out of memory|Fatal process out of memory/,
    example: 'FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory',
  },
  {
    name: 'v8-array-buffer',
    source: 'Node.js ArrayBuffer / Buffer',
    pattern: /Array buffer allocation failed/,
    example: 'RangeError: Array buffer allocation failed',
  },
  {
    // Only a positive length: V8 throws the same words for a negative or NaN length, and that is a bug in
    // the input (a shape computed from a bad value), not a batch too big for memory.
    name: 'v8-typed-array-length',
    source: 'Node.js typed array longer than V8 allows',
    pattern: /Invalid typed array length: \d+\b/,
    example: 'RangeError: Invalid typed array length: 9007199254740991',
  },
  {
    name: 'wasm',
    source: 'WebAssembly (TF.js wasm backend, emscripten)',
    pattern: /WebAssembly\.[\w.]+\(\): Out of memory|Cannot enlarge memory arrays|Aborted\(OOM\)/,
    example: 'RangeError: WebAssembly.Memory.grow(): Out of memory: Maximum memory size exceeded',
  },
];

/** Exit code a shell reports for a child killed by SIGKILL (128 + 9): `sh -c` may not exec the command. */
const SHELL_SIGKILL_EXIT_CODE = 137;

/** The first OOM pattern that matches `text`, or undefined. */
export function matchOom(text: string): OomPattern | undefined {
  return OOM_PATTERNS.find((p) => p.pattern.test(text));
}

/** Outcome of one trial. */
export type TrialOutcome = 'ok' | 'oom' | 'over-budget' | 'timeout' | 'error' | 'interrupted';

/** What is known about a finished trial, in the order the classifier weighs it. */
export interface FailureEvidence {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** Batchlab aborted the trial (AbortSignal, Ctrl-C, batchlab exiting). */
  interrupted: boolean;
  /** Batchlab killed it at the time limit; the limit in ms. */
  timedOutAfterMs?: number;
  /** Measured peak was over the budget (the emulated limit killed it, or it finished over): the sentence. */
  overBudget?: string;
  /** The first stderr line that matched an OOM pattern, with the pattern. */
  oom?: { pattern: OomPattern; line: string };
  /** The address space was limited by prlimit: an allocator failure means "over the budget", not "out of memory". */
  rlimitBytesText?: string;
}

/**
 * Decides the outcome. Order, and why: our own kills first (interrupt, timeout, budget: we know
 * exactly why those happened, and a killed process prints nothing useful); then an OOM message (the
 * most specific evidence); then a SIGKILL we did not send (the kernel's OOM killer is the usual
 * sender); then exit status 0 = ok; anything else is an error.
 */
export function classifyTrial(e: FailureEvidence): { outcome: TrialOutcome; reason: string } {
  if (e.interrupted)
    return { outcome: 'interrupted', reason: 'interrupted: the trial was stopped by batchlab (abort or Ctrl-C)' };
  if (e.timedOutAfterMs !== undefined) {
    return {
      outcome: 'timeout',
      reason: `timed out after ${e.timedOutAfterMs} ms and was killed; raise --timeout or give the command fewer steps`,
    };
  }
  if (e.overBudget !== undefined) return { outcome: 'over-budget', reason: e.overBudget };
  if (e.oom !== undefined) {
    const line = e.oom.line.trim().slice(0, 300);
    if (e.rlimitBytesText !== undefined)
      return {
        outcome: 'over-budget',
        reason: `the allocator failed under the address-space limit of ${e.rlimitBytesText} (prlimit --as): ${line}`,
      };
    return { outcome: 'oom', reason: `out of memory (${e.oom.pattern.source}): ${line}` };
  }
  if (e.signal === 'SIGKILL' || e.exitCode === SHELL_SIGKILL_EXIT_CODE) {
    return {
      outcome: 'oom',
      reason: 'killed by SIGKILL, which batchlab did not send: most likely the kernel OOM killer (check `dmesg`)',
    };
  }
  if (e.exitCode === 0) return { outcome: 'ok', reason: 'finished' };
  const how = e.signal !== null ? `was killed by ${e.signal}` : `exited with status ${e.exitCode}`;
  return { outcome: 'error', reason: `the command ${how}; see its stderr below` };
}

/** How a run that did not end normally ended: the statuses the store keeps for a run. */
export type FailureStatus = 'oom' | 'over-budget' | 'timeout' | 'diverged' | 'failed' | 'interrupted';

/** A process that ended with `outcome` did not finish its run: the run's status ('ok' without a result is a failure). */
export const TRIAL_FAILURE_STATUS: Readonly<Record<TrialOutcome, FailureStatus>> = {
  ok: 'failed',
  oom: 'oom',
  'over-budget': 'over-budget',
  timeout: 'timeout',
  error: 'failed',
  interrupted: 'interrupted',
};

/** The error code of each status: what a command line prints and how it exits for it. */
export const FAILURE_CODE: Readonly<Record<FailureStatus, ErrorCode>> = {
  oom: 'BATCHLAB_OOM',
  'over-budget': 'BATCHLAB_OOM',
  timeout: 'BATCHLAB_TIMEOUT',
  diverged: 'BATCHLAB_DIVERGED',
  failed: 'BATCHLAB_CHILD_FAILED',
  interrupted: 'BATCHLAB_INTERRUPTED',
};

/** How a run failed, and what memory it had measured by then. */
export interface RunFailure {
  status: FailureStatus;
  code: ErrorCode;
  /** Why: the first line says it; any further lines (a stderr tail, a stack) are detail. */
  reason: string;
  /** Peak on the budget's measure, when the run measured one before it was stopped (over budget). */
  peakBytes?: number;
  vmHwmBytes?: number;
  /** The numbers of an out-of-memory message (core/oom-message.ts): what was tried, held, allowed. */
  oom?: OomFigures;
}

/** A run whose trainer could tell how it failed (a command's out-of-memory, budget, timeout or crash). */
export class TrainFailedError extends BatchlabError {
  readonly status: FailureStatus;
  readonly peakBytes?: number;
  readonly vmHwmBytes?: number;
  readonly oom?: OomFigures;
  constructor(failure: Omit<RunFailure, 'code'>) {
    super(FAILURE_CODE[failure.status], failure.reason);
    this.status = failure.status;
    this.peakBytes = failure.peakBytes;
    this.vmHwmBytes = failure.vmHwmBytes;
    this.oom = failure.oom;
  }
}

/**
 * The failure of an error thrown by a run, in this order: a trainer's own verdict (TrainFailedError), a
 * divergence, an allocation failure by the OOM table (V8, typed arrays, wasm, the native addon), another
 * known error (an interrupt, or bad input with its own code), anything else (a bug: its stack).
 */
export function classifyError(err: unknown): RunFailure {
  if (err instanceof TrainFailedError)
    return {
      status: err.status,
      code: err.code,
      reason: err.message,
      peakBytes: err.peakBytes,
      vmHwmBytes: err.vmHwmBytes,
      ...(err.oom === undefined ? {} : { oom: err.oom }),
    };
  if (err instanceof DivergedError) return { status: 'diverged', code: err.code, reason: err.message };
  const message = err instanceof Error ? err.message : String(err);
  if (matchOom(message)) {
    const oom = parseOomMessage(message);
    return { status: 'oom', code: 'BATCHLAB_OOM', reason: `out of memory: ${message}`, ...(oom ? { oom } : {}) };
  }
  if (isKnownError(err))
    return {
      status: err.code === 'BATCHLAB_INTERRUPTED' ? 'interrupted' : 'failed',
      code: err.code,
      reason: err.message,
    };
  return {
    status: 'failed',
    code: 'BATCHLAB_CHILD_FAILED',
    reason: err instanceof Error ? (err.stack ?? err.message) : message,
  };
}
