/**
 * The OOM-message reader on real messages, copied verbatim (long tails cut where marked "...") from
 * where each is named. "code search" = quoted in a public repository file found with a code search
 * that does not name the repository; every other source is a public issue.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseOomMessage, sizeBytes, type OomFigures } from './oom-message.js';

const KiB = 2 ** 10;
const MiB = 2 ** 20;
const GiB = 2 ** 30;
/** The frameworks print 2 decimals: a printed "X.YZ GiB" is X.YZ x 2^30 rounded to the byte. */
const g = (x: number): number => Math.round(x * GiB);
const m = (x: number): number => Math.round(x * MiB);

interface Case {
  what: string;
  source: string;
  text: string;
  expect: OomFigures;
}

const CASES: Case[] = [
  {
    what: 'PyTorch >= 2.2, CUDA',
    source: 'https://github.com/murong-xu/CADS/issues/4',
    text: 'torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 22.78 GiB. GPU 0 has a total capacity of 31.47 GiB of which 12.73 GiB is free. Including non-PyTorch memory, this process has 18.73 GiB memory in use. Of the allocated memory 9.08 GiB is allocated by PyTorch, and 9.35 GiB is reserved by PyTorch but unallocated. If reserved but unallocated memory is large try setting PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True to avoid fragmentation.  See documentation for Memory Management  (https://pytorch.org/docs/stable/notes/cuda.html#environment-variables)',
    expect: {
      source: 'pytorch-caching-allocator',
      triedBytes: g(22.78),
      totalBytes: g(31.47),
      freeBytes: g(12.73),
      processBytes: g(18.73),
      allocatedBytes: g(9.08),
      reservedBytes: g(9.08) + g(9.35),
    },
  },
  {
    what: 'PyTorch 2.x with a per-process memory fraction ("allowed") and another process on the GPU',
    source: 'code search (a TypeScript test of a job-error parser quoting a failed j-lens job)',
    text: 'OutOfMemoryError: CUDA out of memory. Tried to allocate 996.00 MiB. GPU 0 has a total capacity of 44.43 GiB of which 9.06 GiB is free. Process 2102129 has 17.54 GiB memory in use. Including non-PyTorch memory, this process has 17.81 GiB memory in use. 17.69 GiB allowed; Of the allocated memory 17.44 GiB is allocated by PyTorch, and 59.88 MiB is reserved by PyTorch but unallocated. If reserved but unallocated memory is large try setting PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True to avoid fragmentation. See documentation for Memory Management (https://pytorch.org/docs/stable/notes/cuda.html#environment-variables)',
    expect: {
      source: 'pytorch-caching-allocator',
      triedBytes: m(996),
      totalBytes: g(44.43),
      freeBytes: g(9.06),
      processBytes: g(17.81),
      otherProcessesBytes: g(17.54),
      limitBytes: g(17.69),
      allocatedBytes: g(17.44),
      reservedBytes: g(17.44) + m(59.88),
    },
  },
  {
    what: 'PyTorch 2.x, an unreadable NVML figure (larger than the GPU) is dropped; 0 bytes unallocated',
    source: 'code search (a Python test quoting a GTX 1070 run report, "shortened to two processes")',
    text: 'OutOfMemoryError: CUDA out of memory. Tried to allocate 2.13 GiB. GPU 0 has a total capacity of 8.00 GiB of which 6.10 GiB is free. Process 9132 has 17179869184.00 GiB memory in use. Including non-PyTorch memory, this process has 17179869184.00 GiB memory in use. 2.63 GiB allowed; Of the allocated memory 954.00 MiB is allocated by PyTorch, and 0 bytes is reserved by PyTorch but unallocated.',
    expect: {
      source: 'pytorch-caching-allocator',
      triedBytes: g(2.13),
      totalBytes: g(8),
      freeBytes: g(6.1),
      limitBytes: g(2.63),
      allocatedBytes: m(954),
      reservedBytes: m(954),
    },
  },
  {
    what: 'PyTorch 2.1, "capacty" (sic), the process seen only as "Process N" (a container: NVML pids differ)',
    source: 'https://github.com/FoundationVision/GenerateU/issues/10',
    text: 'torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 496.00 MiB. GPU 0 has a total capacty of 14.75 GiB of which 235.06 MiB is free. Process 20398 has 14.52 GiB memory in use. Of the allocated memory 14.06 GiB is allocated by PyTorch, and 330.42 MiB is reserved by PyTorch but unallocated. If reserved but unallocated memory is large try setting max_split_size_mb to avoid fragmentation.  See documentation for Memory Management and PYTORCH_CUDA_ALLOC_CONF',
    expect: {
      source: 'pytorch-caching-allocator',
      triedBytes: m(496),
      totalBytes: g(14.75),
      freeBytes: m(235.06),
      otherProcessesBytes: g(14.52),
      allocatedBytes: g(14.06),
      reservedBytes: g(14.06) + m(330.42),
    },
  },
  {
    what: 'PyTorch 2.1, "0 bytes is free"',
    source: 'https://github.com/carolchenyx/MGFN./issues/35',
    text: 'torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 1.70 GiB. GPU 0 has a total capacty of 6.00 GiB of which 0 bytes is free. Of the allocated memory 2.93 GiB is allocated by PyTorch, and 2.30 GiB is reserved by PyTorch but unallocated. If reserved but unallocated memory is large try setting max_split_size_mb to avoid fragmentation.  See documentation for Memory Management and PYTORCH_CUDA_ALLOC_CONF',
    expect: {
      source: 'pytorch-caching-allocator',
      triedBytes: g(1.7),
      totalBytes: g(6),
      freeBytes: 0,
      allocatedBytes: g(2.93),
      reservedBytes: g(2.93) + g(2.3),
    },
  },
  {
    what: 'PyTorch 1.x-2.0 with "allowed" (set_per_process_memory_fraction(0.1))',
    source: 'code search (a Python file recording the two messages with and without the fraction)',
    text: 'RuntimeError: CUDA out of memory. Tried to allocate 37.25 GiB (GPU 0; 23.68 GiB total capacity; 192.29 MiB already allocated; 15.79 GiB free; 2.37 GiB allowed; 5.05 GiB reserved in total by PyTorch)',
    expect: {
      source: 'pytorch-caching-allocator',
      triedBytes: g(37.25),
      totalBytes: g(23.68),
      allocatedBytes: m(192.29),
      freeBytes: g(15.79),
      limitBytes: g(2.37),
      reservedBytes: g(5.05),
    },
  },
  {
    what: 'PyTorch 1.5-2.0',
    source: 'https://github.com/pytorch/pytorch/issues/59778',
    text: 'CUDA out of memory. Tried to allocate 2.26 GiB (GPU 0; 6.00 GiB total capacity; 781.59 MiB already allocated; 3.03 GiB free; 1.24 GiB reserved in total by PyTorch)',
    expect: {
      source: 'pytorch-caching-allocator',
      triedBytes: g(2.26),
      totalBytes: g(6),
      allocatedBytes: m(781.59),
      freeBytes: g(3.03),
      reservedBytes: g(1.24),
    },
  },
  {
    what: 'PyTorch before 1.5 ("cached")',
    source: 'https://github.com/pytorch/pytorch/issues/16417 (its title)',
    text: 'RuntimeError: CUDA out of memory. Tried to allocate 12.50 MiB (GPU 0; 10.92 GiB total capacity; 8.57 MiB already allocated; 9.28 GiB free; 4.68 MiB cached)',
    expect: {
      source: 'pytorch-caching-allocator',
      triedBytes: m(12.5),
      totalBytes: g(10.92),
      allocatedBytes: m(8.57),
      freeBytes: g(9.28),
      reservedBytes: m(4.68),
    },
  },
  {
    what: 'PyTorch MPS, "GB" printed for x / 2^30 (the same 18.13 later prints as GiB)',
    source: 'https://github.com/lllyasviel/Fooocus/issues/1139',
    text: 'RuntimeError: MPS backend out of memory (MPS allocated: 8.89 GB, other allocations: 172.98 MB, max allowed: 9.07 GB). Tried to allocate 6.25 MB on private pool. Use PYTORCH_MPS_HIGH_WATERMARK_RATIO=0.0 to disable upper limit for memory allocations (may cause system failure).',
    expect: {
      source: 'pytorch-mps',
      allocatedBytes: g(8.89),
      processBytes: g(8.89) + m(172.98),
      limitBytes: g(9.07),
      triedBytes: m(6.25),
    },
  },
  {
    what: 'PyTorch MPS, GiB',
    source: 'https://github.com/Comfy-Org/ComfyUI/issues/7440',
    text: 'MPS backend out of memory (MPS allocated: 9.57 GiB, other allocations: 17.35 GiB, max allowed: 27.20 GiB). Tried to allocate 292.50 MiB on private pool. Use PYTORCH_MPS_HIGH_WATERMARK_RATIO=0.0 to disable upper limit for memory allocations (may cause system failure).',
    expect: {
      source: 'pytorch-mps',
      allocatedBytes: g(9.57),
      processBytes: g(9.57) + g(17.35),
      limitBytes: g(27.2),
      triedBytes: m(292.5),
    },
  },
  {
    what: "PyTorch's CPU allocator",
    source: 'produced here: torch 1.13 (Debian python3-torch), torch.empty(2**50, dtype=torch.uint8)',
    text: "[enforce fail at alloc_cpu.cpp:75] err == 0. DefaultCPUAllocator: can't allocate memory: you tried to allocate 1125899906842624 bytes. Error code 12 (Cannot allocate memory)",
    expect: { source: 'pytorch-cpu', triedBytes: 2 ** 50 },
  },
  {
    what: 'the old TH CPU allocator, whose GB is size / 2^30',
    source: 'https://github.com/pytorch/pytorch/issues/5434 (its title)',
    text: 'RuntimeError: $ Torch: not enough memory: you tried to allocate 72GB. Buy new RAM!',
    expect: { source: 'pytorch-cpu', triedBytes: 72 * GiB },
  },
  {
    what: 'JAX (jaxlib XlaRuntimeError), bytes',
    source: 'https://github.com/google-deepmind/alphafold/issues/1023',
    text: 'jaxlib.xla_extension.XlaRuntimeError: RESOURCE_EXHAUSTED: Out of memory while trying to allocate 7406166528 bytes.',
    expect: { source: 'xla', triedBytes: 7406166528 },
  },
  {
    what: 'JAX, after BFC warnings that say they are not a failure (their sizes are not the failed allocation)',
    source: 'https://github.com/flatironinstitute/nemos/issues/345',
    text: [
      'jaxlib.xla_extension.XlaRuntimeError: RESOURCE_EXHAUSTED: Out of memory while trying to allocate 3199993600 bytes.',
      '2025-05-18 21:59:55.086788: W external/xla/xla/tsl/framework/bfc_allocator.cc:310] Allocator (GPU_0_bfc) ran out of memory trying to allocate 3.37GiB with freed_by_count=0. The caller indicates that this is not a failure, but this may mean that there could be performance gains if more memory were available.',
    ].join('\n'),
    expect: { source: 'xla', triedBytes: 3199993600 },
  },
  {
    what: 'JAX, newer, a size with a unit, after the BFC failure line (rounded bytes)',
    source: 'code search (a research log quoting an A100 80GB run)',
    text: [
      'bfc_allocator.cc:514] Allocator (GPU_0_bfc) ran out of memory trying to allocate 73.30GiB (rounded to 78702055168)requested by op',
      "jax.errors.JaxRuntimeError: RESOURCE_EXHAUSTED: Out of memory while trying to allocate 73.30GiB. [executable_name='jit__likelihood']",
    ].join('\n'),
    expect: { source: 'xla', triedBytes: 78702055168 },
  },
  {
    what: 'XLA "Failed to allocate request" (the exact bytes in parentheses)',
    source: 'https://github.com/google-deepmind/jax_privacy/issues/10',
    text: 'Original error: RESOURCE_EXHAUSTED: Failed to allocate request for 176.00MiB (184549376B) on device ordinal 0',
    expect: { source: 'xla', triedBytes: 184549376 },
  },
  {
    what: "XLA's cudaMallocAsync allocator: free and total from CUDA, Limit 0 = none, InUse",
    source: 'https://github.com/NovaSky-AI/SkyRL/issues/624',
    text: [
      'E1103 18:23:55.103160 3413767 gpu_cudamallocasync_allocator.cc:361] gpu_async_1 cuMemAllocAsync failed to allocate 1225195446464 bytes: RESOURCE_EXHAUSTED: : CUDA_ERROR_OUT_OF_MEMORY: out of memory',
      ' Reported by CUDA: Free memory/Total memory: 22635544576/85095874560',
      'E1103 18:23:55.103186 3413767 gpu_cudamallocasync_allocator.cc:366] Stats: Limit:                               0',
      'InUse:                     61982909300',
      'MaxInUse:                  61982909300',
    ].join('\n'),
    expect: {
      source: 'xla',
      triedBytes: 1225195446464,
      freeBytes: 22635544576,
      totalBytes: 85095874560,
      allocatedBytes: 61982909300,
    },
  },
  {
    what: "TensorFlow: bytes from the tensor's shape and type",
    source: 'https://github.com/tensorflow/tensorflow/issues/47820 (its title)',
    text: 'OOM when allocating tensor with shape[3,3,512,1024] and type float on /job:localhost/replica:0/task:0/device:GPU:0 by allocator GPU_0_bfc [Op:Mul]',
    expect: { source: 'tensorflow', triedBytes: 3 * 3 * 512 * 1024 * 4 },
  },
  {
    what: "TensorFlow with the BFC allocator's stats (Limit, InUse); an old message without the type",
    source: 'https://github.com/mozilla/DeepSpeech/issues/1940 (its title and the stats lines of its log)',
    text: [
      '2019-03-11 09:52:43.509950: I tensorflow/core/common_runtime/bfc_allocator.cc:647] Stats: ',
      'Limit:                 10925244416',
      'InUse:                  7613320960',
      'MaxInUse:               7613320960',
      'always OOM when allocating tensor with shape[2048,436631]',
    ].join('\n'),
    expect: { source: 'tensorflow', limitBytes: 10925244416, allocatedBytes: 7613320960 },
  },
  {
    what: 'NumPy, PiB',
    source: 'produced here: numpy (Debian python3), np.empty(2**47)',
    text: 'numpy.core._exceptions.MemoryError: Unable to allocate 1.00 PiB for an array with shape (140737488355328,) and data type float64',
    expect: { source: 'numpy', triedBytes: 2 ** 50 },
  },
  {
    what: 'cuDNN workspace (no amount)',
    source: "this repository's OOM table (engine/external/classify.ts)",
    text: 'RuntimeError: cuDNN error: CUDNN_STATUS_NOT_SUPPORTED. This error may appear if you passed in a non-contiguous input.',
    expect: { source: 'cudnn' },
  },
  {
    what: 'cuBLAS (no amount)',
    source: "this repository's OOM table (engine/external/classify.ts)",
    text: 'RuntimeError: CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`',
    expect: { source: 'cublas' },
  },
  {
    what: 'CUDA runtime (no amount)',
    source: "this repository's OOM table (engine/external/classify.ts)",
    text: 'RuntimeError: CUDA error: out of memory',
    expect: { source: 'cuda-runtime' },
  },
];

for (const c of CASES) {
  test(`OOM figures: ${c.what}`, () => {
    assert.deepEqual(parseOomMessage(c.text), c.expect, c.source);
  });
}

test('ordinary output and BFC warnings that are "not a failure" have no OOM figures', () => {
  for (const text of [
    "KeyError: 'label'",
    'RuntimeError: CUDA error: device-side assert triggered',
    'W tensorflow/core/common_runtime/bfc_allocator.cc:239] Allocator (GPU_0_bfc) ran out of memory trying to allocate 124.59MiB with freed_by_count=0. The caller indicates that this is not a failure, but may mean that there could be performance gains if more memory were available.',
    'loss 0.31, allocated 2.00 GiB',
  ])
    assert.equal(parseOomMessage(text), undefined, text);
});

test('sizes: binary and decimal units, bytes, and the binary "GB" of sources that divide by 1024', () => {
  assert.equal(sizeBytes('2.00', 'GiB'), 2 * GiB);
  assert.equal(sizeBytes('1.5', 'KiB'), 1.5 * KiB);
  assert.equal(sizeBytes('768', 'B'), 768);
  assert.equal(sizeBytes('0', 'bytes'), 0);
  assert.equal(sizeBytes('2', 'GB'), 2e9);
  assert.equal(sizeBytes('2', 'GB', true), 2 * GiB);
  assert.throws(() => sizeBytes('2', 'XB'), /unknown size unit "XB"/);
});
