/**
 * Counts the floating-point work a closure actually executes, from the kernels tf.profile
 * records (convolutions, their two gradients, matmuls). Elementwise ops are ignored: they are
 * memory-bound and a small share of the FLOPs of these conv nets.
 */
import * as tf from '@tensorflow/tfjs';

interface KernelRecord {
  name: string;
  inputShapes: number[][];
  outputShapes: number[][];
}

const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

export function kernelFlops(k: KernelRecord): number {
  const [a, b] = k.inputShapes;
  const out = k.outputShapes[0];
  if (!a || !out) return 0;
  switch (k.name) {
    case 'Conv2D': // x [N,H,W,Cin], w [kh,kw,Cin,Cout] → 2·|y|·kh·kw·Cin
      return b ? 2 * prod(out) * b[0]! * b[1]! * b[2]! : 0;
    case 'Conv2DBackpropInput': // dy [N,oh,ow,Cout], w → dx: same count as the forward conv
      return b ? 2 * prod(a) * b[0]! * b[1]! * b[2]! : 0;
    case 'Conv2DBackpropFilter': // x, dy → dw [kh,kw,Cin,Cout]: 2·|dy|·kh·kw·Cin
      return b ? 2 * prod(b) * out[0]! * out[1]! * out[2]! : 0;
    case 'BatchMatMul':
    case 'MatMul':
    case '_FusedMatMul': {
      if (!b) return 0;
      // out [..., M, N]; the shared dimension is whichever of a's last two dims is not M.
      const m = out[out.length - 2]!;
      const kdim = a[a.length - 1] === m ? a[a.length - 2]! : a[a.length - 1]!;
      return 2 * prod(out) * kdim;
    }
    case 'FusedConv2D':
      return b ? 2 * prod(out) * b[0]! * b[1]! * b[2]! : 0;
    default:
      return 0;
  }
}

/** Runs `f` once under tf.profile and returns the counted FLOPs and peak bytes. */
export async function countFlops(f: () => Promise<unknown>): Promise<{ flops: number; peakBytes: number }> {
  const info = await tf.profile(async () => {
    await f();
    return [] as tf.Tensor[];
  });
  let flops = 0;
  for (const k of info.kernels as unknown as KernelRecord[]) flops += kernelFlops(k);
  return { flops, peakBytes: info.peakBytes };
}
