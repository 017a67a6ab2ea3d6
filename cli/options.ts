/** Commander option helpers shared by several commands. */

/** Accumulates a repeatable option (`--set a=1 --set b=2`) into a list. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** The task queues `--gpu-queue` / `--cpu-queue` name, or undefined when neither is given. */
export function taskQueueFlags(flags: { gpuQueue?: string; cpuQueue?: string }): { gpu?: string; cpu?: string } | undefined {
  if (!flags.gpuQueue && !flags.cpuQueue) return undefined;
  return { ...(flags.gpuQueue ? { gpu: flags.gpuQueue } : {}), ...(flags.cpuQueue ? { cpu: flags.cpuQueue } : {}) };
}
