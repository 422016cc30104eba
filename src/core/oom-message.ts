/**
 * The numbers in an out-of-memory message. Whether a failure IS out of memory is decided by the one
 * table of OOM patterns (engine/external/classify.ts); this module reads what such a message says
 * about memory, so that a failed probe is a measurement too: the allocation that failed, what the
 * process held, the device's capacity and free memory, and the cap the process runs under.
 *
 * Formats read (each with a real message in oom-message.test.ts):
 * - PyTorch caching allocator (CUDA, ROCm/HIP, XPU), 2.1 and later: "CUDA out of memory. Tried to
 *   allocate 2.00 GiB. GPU 0 has a total capacity of 79.19 GiB of which 1.52 GiB is free. [Process N
 *   has X memory in use. ][Including non-PyTorch memory, this process has X memory in use. ][X
 *   allowed; ]Of the allocated memory X is allocated by PyTorch, [with X allocated in private pools
 *   (e.g., CUDA Graphs), ]and X is reserved by PyTorch but unallocated." (2.1-2.3 spell "capacty").
 * - the same allocator, 1.x-2.0: "Tried to allocate X (GPU 0; X total capacity; X already allocated;
 *   X free; [X allowed; ]X reserved in total by PyTorch)", before 1.5 "X cached)".
 * - PyTorch MPS: "MPS backend out of memory (MPS allocated: X, other allocations: X, max allowed:
 *   X). Tried to allocate X on private pool."
 * - PyTorch CPU allocator: "DefaultCPUAllocator: can't allocate memory: you tried to allocate N
 *   bytes", and the old TH "not enough memory: you tried to allocate 72GB".
 * - XLA (JAX, TF/XLA): "RESOURCE_EXHAUSTED: Out of memory while trying to allocate N bytes." (or
 *   "73.30GiB."), "Failed to allocate request for 176.00MiB (184549376B)", the BFC allocator's
 *   "ran out of memory trying to allocate X (rounded to N)" with its "Limit:"/"InUse:" stats, and the
 *   cudaMallocAsync allocator's "failed to allocate N bytes" with "Free memory/Total memory: F/T".
 * - TensorFlow: "OOM when allocating tensor with shape[3,3,512,1024] and type float" (bytes = the
 *   shape's product x the type's size) and the BFC lines above.
 * - NumPy: "Unable to allocate 7.45 GiB for an array".
 * - CUDA runtime, cuDNN and cuBLAS failures say no amount ("CUDA error: out of memory",
 *   "CUDNN_STATUS_ALLOC_FAILED"): recognised, with no figures.
 *
 * Pure: imports nothing.
 */

/** Which family of message the figures came from. */
export type OomSource =
  | 'pytorch-caching-allocator'
  | 'pytorch-mps'
  | 'pytorch-cpu'
  | 'xla'
  | 'tensorflow'
  | 'numpy'
  | 'cuda-runtime'
  | 'cudnn'
  | 'cublas';

/** What an out-of-memory message says about memory, in bytes; a field is present only when the message states it. */
export interface OomFigures {
  source: OomSource;
  /** The allocation that failed (the framework's rounded size where it prints one). */
  triedBytes?: number;
  /** The device's capacity. */
  totalBytes?: number;
  /** Free on the device when the allocation failed (after the allocator released its cache). */
  freeBytes?: number;
  /** Device memory this process held, the framework's and everyone else's in it (CUDA context, cuDNN and cuBLAS workspaces): NVML's figure, the one nvidia-smi shows. */
  processBytes?: number;
  /** Device memory other processes held ("Process 1234 has X memory in use"), summed. */
  otherProcessesBytes?: number;
  /** Held by live tensors: the framework allocator's "allocated" (BFC "InUse", MPS "MPS allocated"). */
  allocatedBytes?: number;
  /** Held by the framework's allocator in all: allocated plus cached-but-unallocated. */
  reservedBytes?: number;
  /** The cap this process runs under: PyTorch's per-process memory fraction ("X allowed"), MPS's "max allowed", a BFC allocator's "Limit". */
  limitBytes?: number;
}

/** Bytes per unit. "KB/MB/GB" are decimal here except where a source is known to divide by 1024 (see sizeBytes). */
const UNIT_BYTES: Readonly<Record<string, number>> = {
  b: 1,
  byte: 1,
  bytes: 1,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
  pib: 2 ** 50,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  pb: 1e15,
};

/** A size as the frameworks print it: "2.00 GiB", "73.30GiB", "768B", "0 bytes", "720.00 MB". */
const SIZE = String.raw`(\d+(?:\.\d+)?)\s?(bytes|byte|[KMGTP]iB|[KMGTP]B|B)\b`;

/**
 * Bytes of a printed size. `binarySi`: the source prints KB/MB/GB but divides by 1024 (PyTorch's MPS
 * allocator printed "GB" for x / 2^30 until it switched to "GiB"; the old TH allocator wrote size / 2^30 as "GB").
 */
export function sizeBytes(value: string, unit: string, binarySi = false): number {
  const u = unit.toLowerCase();
  const si = /^[kmgtp]b$/.test(u);
  const factor = si && binarySi ? (UNIT_BYTES[`${u[0]}ib`] as number) : UNIT_BYTES[u];
  if (factor === undefined) throw new Error(`unknown size unit "${unit}"`);
  return Math.round(Number(value) * factor);
}

/** The size captured at groups (i, i + 1) of a match. */
function sizeAt(m: RegExpExecArray, i: number, binarySi = false): number | undefined {
  const value = m[i];
  const unit = m[i + 1];
  return value === undefined || unit === undefined ? undefined : sizeBytes(value, unit, binarySi);
}

/** A regexp with SIZE substituted for each "{S}". */
function re(source: string, flags = ''): RegExp {
  return new RegExp(source.replaceAll('{S}', SIZE), flags);
}

const PT_TRIED = re(String.raw`out of memory\. Tried to allocate {S}`);
const PT_CAPACITY = re(`has a total capac(?:i)?ty of {S} of which {S} is free`);
const PT_THIS_PROCESS = re(`this process has {S} memory in use`);
const PT_OTHER_PROCESS = re(String.raw`Process \d+ has {S} memory in use`, 'g');
const PT_ALLOWED = re(`{S} allowed;`);
const PT_ALLOCATED = re(
  String.raw`Of the allocated memory {S} is allocated by PyTorch, (?:with {S} allocated in private pools \(e\.g\., CUDA Graphs\), )?and {S} is reserved by PyTorch but unallocated`,
);
const PT_LEGACY = re(
  String.raw`Tried to allocate {S} \(GPU \d+; {S} total capacity; {S} already allocated; {S} free; (?:{S} allowed; )?{S} (?:reserved in total by PyTorch|cached)\)`,
);

/**
 * PyTorch's caching allocator (CUDA, HIP, XPU), both formats. A process figure larger than the
 * device is dropped: when NVML cannot read a process it has been seen to print 17179869184.00 GiB.
 */
function pytorchCachingAllocator(text: string): OomFigures | undefined {
  const legacy = PT_LEGACY.exec(text);
  if (legacy !== null) {
    return {
      source: 'pytorch-caching-allocator',
      triedBytes: sizeAt(legacy, 1),
      totalBytes: sizeAt(legacy, 3),
      allocatedBytes: sizeAt(legacy, 5),
      freeBytes: sizeAt(legacy, 7),
      limitBytes: sizeAt(legacy, 9),
      reservedBytes: sizeAt(legacy, 11),
    };
  }
  const tried = PT_TRIED.exec(text);
  if (tried === null) return undefined;
  const f: OomFigures = { source: 'pytorch-caching-allocator', triedBytes: sizeAt(tried, 1) };
  const capacity = PT_CAPACITY.exec(text);
  if (capacity !== null) [f.totalBytes, f.freeBytes] = [sizeAt(capacity, 1), sizeAt(capacity, 3)];
  const plausible = (b: number | undefined): number | undefined =>
    b !== undefined && (f.totalBytes === undefined || b <= f.totalBytes) ? b : undefined;
  const self = PT_THIS_PROCESS.exec(text);
  if (self !== null) f.processBytes = plausible(sizeAt(self, 1));
  const others = [...text.matchAll(PT_OTHER_PROCESS)].map((m) => plausible(sizeAt(m, 1)));
  if (others.length > 0 && others.every((b) => b !== undefined))
    f.otherProcessesBytes = others.reduce((a, b) => a + (b as number), 0);
  const allowed = PT_ALLOWED.exec(text);
  if (allowed !== null) f.limitBytes = sizeAt(allowed, 1);
  const allocated = PT_ALLOCATED.exec(text);
  if (allocated !== null) {
    // The first figure already counts the private pools (CUDA Graphs); reserved = it + the unallocated rest.
    f.allocatedBytes = sizeAt(allocated, 1);
    f.reservedBytes = (f.allocatedBytes as number) + (sizeAt(allocated, 5) as number);
  }
  return f;
}

const MPS = re(
  String.raw`MPS backend out of memory \(MPS allocated: {S}, other allocations: {S}, max allowed: {S}\)(?:\. Tried to allocate {S})?`,
);

/** PyTorch's MPS allocator; "other allocations" are this process's other Metal buffers. */
function pytorchMps(text: string): OomFigures | undefined {
  const m = MPS.exec(text);
  if (m === null) return undefined;
  const allocatedBytes = sizeAt(m, 1, true) as number;
  return {
    source: 'pytorch-mps',
    allocatedBytes,
    processBytes: allocatedBytes + (sizeAt(m, 3, true) as number),
    limitBytes: sizeAt(m, 5, true),
    triedBytes: sizeAt(m, 7, true),
  };
}

const CPU_ALLOCATOR = re(
  `(?:DefaultCPUAllocator|Torch): (?:can't allocate memory|not enough memory): you tried to allocate {S}`,
);

/** PyTorch's CPU allocator (and the old TH one, whose "GB" is size / 2^30). */
function pytorchCpu(text: string): OomFigures | undefined {
  const m = CPU_ALLOCATOR.exec(text);
  return m === null ? undefined : { source: 'pytorch-cpu', triedBytes: sizeAt(m, 1, true) };
}

const XLA_TRIED = re(`Out of memory (?:while trying to )?allocat(?:e|ing) {S}`, 'i');
const XLA_REQUEST = /Failed to allocate request for [\d.]+\s?[KMGTP]?i?B \((\d+)B\)/;
const BFC_TRIED = /ran out of memory trying to allocate [\d.]+\s?[KMGTP]?i?B \(rounded to (\d+)\)/;
const ASYNC_TRIED = /cuMemAllocAsync failed to allocate (\d+) bytes/;
const ASYNC_FREE_TOTAL = /Free memory\/Total memory: (\d+)\/(\d+)/;
const BFC_LIMIT = /^\s*Limit:\s+(\d+)\s*$/m;
const BFC_IN_USE = /^\s*InUse:\s+(\d+)\s*$/m;

/**
 * XLA's messages (JAX, TF/XLA) and the BFC / cudaMallocAsync allocator reports that precede them.
 * A BFC warning that says "The caller indicates that this is not a failure" has no "(rounded to N)"
 * and is not read. A Limit of 0 (cudaMallocAsync prints it) means no limit.
 */
function allocatorReports(text: string): Omit<OomFigures, 'source'> {
  const f: Omit<OomFigures, 'source'> = {};
  const rounded = BFC_TRIED.exec(text) ?? ASYNC_TRIED.exec(text);
  if (rounded !== null) f.triedBytes = Number(rounded[1]);
  const freeTotal = ASYNC_FREE_TOTAL.exec(text);
  if (freeTotal !== null) [f.freeBytes, f.totalBytes] = [Number(freeTotal[1]), Number(freeTotal[2])];
  const limit = BFC_LIMIT.exec(text);
  if (limit !== null && Number(limit[1]) > 0) f.limitBytes = Number(limit[1]);
  const inUse = BFC_IN_USE.exec(text);
  if (inUse !== null) f.allocatedBytes = Number(inUse[1]);
  return f;
}

/**
 * XLA: the failed allocation in exact bytes where one is printed (its own "(N B)", the allocator's
 * "(rounded to N)"), else its own message's size, which may have only 2 decimals ("73.30GiB").
 */
function xla(text: string): OomFigures | undefined {
  if (!/RESOURCE_EXHAUSTED|Resource exhausted/i.test(text)) return undefined;
  const reports = allocatorReports(text);
  const request = XLA_REQUEST.exec(text);
  const tried = XLA_TRIED.exec(text);
  const triedBytes =
    request !== null ? Number(request[1]) : (reports.triedBytes ?? (tried !== null ? sizeAt(tried, 1) : undefined));
  return { source: 'xla', ...reports, triedBytes };
}

/** Bytes per element of TensorFlow's dtype names ("float", "half", "bfloat16", "int64", ...). */
const TF_DTYPE_BYTES: Readonly<Record<string, number>> = {
  float: 4,
  double: 8,
  half: 2,
  bfloat16: 2,
  int8: 1,
  uint8: 1,
  int16: 2,
  uint16: 2,
  int32: 4,
  uint32: 4,
  int64: 8,
  uint64: 8,
  bool: 1,
  complex64: 8,
  complex128: 16,
};

const TF_SHAPE = /OOM when allocating tensor with shape\[([\d,\s]*)\](?: and type (\w+))?/;

/** TensorFlow: the tensor's bytes from its shape and type (when the type is printed), else the BFC report's. */
function tensorflow(text: string): OomFigures | undefined {
  const m = TF_SHAPE.exec(text);
  if (m === null) return undefined;
  const reports = allocatorReports(text);
  const elementBytes = m[2] === undefined ? undefined : TF_DTYPE_BYTES[m[2]];
  const dims = (m[1] as string).split(',').filter((d) => d.trim() !== '');
  const shapeBytes = elementBytes === undefined ? undefined : dims.reduce((a, d) => a * Number(d), 1) * elementBytes;
  return { source: 'tensorflow', ...reports, triedBytes: reports.triedBytes ?? shapeBytes };
}

const NUMPY = re(`Unable to allocate {S} for an array`);

function numpy(text: string): OomFigures | undefined {
  const m = NUMPY.exec(text);
  return m === null ? undefined : { source: 'numpy', triedBytes: sizeAt(m, 1) };
}

/** Failures that state no amount. */
function withoutFigures(text: string): OomFigures | undefined {
  if (/CUDNN_STATUS_ALLOC_FAILED|CUDNN_STATUS_NOT_SUPPORTED/.test(text)) return { source: 'cudnn' };
  if (/CUBLAS_STATUS_ALLOC_FAILED/.test(text)) return { source: 'cublas' };
  if (/CUDA error: out of memory|cudaErrorMemoryAllocation|CUDA_ERROR_OUT_OF_MEMORY/.test(text))
    return { source: 'cuda-runtime' };
  return undefined;
}

/** The readers, most specific first: a TF message carries "Resource exhausted" too, and an XLA one may quote CUDA's. */
const READERS: readonly ((text: string) => OomFigures | undefined)[] = [
  pytorchCachingAllocator,
  pytorchMps,
  pytorchCpu,
  tensorflow,
  xla,
  numpy,
  withoutFigures,
];

/**
 * The figures of the first out-of-memory message in `text` (a message, or a whole stderr tail),
 * undefined when no known format is found. Fields the message does not state are absent.
 */
export function parseOomMessage(text: string): OomFigures | undefined {
  for (const read of READERS) {
    const figures = read(text);
    if (figures !== undefined) return dropUndefined(figures);
  }
  return undefined;
}

/** The figures without the fields that came out undefined, so a reader can test `'x' in f` and deepEqual works. */
function dropUndefined(f: OomFigures): OomFigures {
  return Object.fromEntries(Object.entries(f).filter(([, v]) => v !== undefined)) as unknown as OomFigures;
}
