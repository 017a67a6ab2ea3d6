/**
 * Lets the event loop run (timers, I/O, heartbeats) between long synchronous tensor steps.
 * Native tfjs kernels block the loop while they run; awaiting this between steps is what makes
 * activity heartbeats and cancellation possible during training or inference.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise<void>((resolve) => {
    if (typeof setImmediate === 'function') setImmediate(resolve);
    else setTimeout(resolve, 0);
  });
}
