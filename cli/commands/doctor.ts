/**
 * `cc2d doctor [--json]`: is everything a run needs reachable?
 *   temporal  frontend reachable and the namespace exists
 *   s3        endpoint reachable and writable (put, sha256-verified get, delete of a probe object)
 *   backend   the TF.js backend this machine would use, the TensorFlow version behind it and the
 *             devices it computes on (`devices`: ["GPU:0 <name>", …] or ["CPU"])
 *   dataset   ISBI_DIR (default ../shared/datasets/isbi2015_ceph) has RawImage/ and AnnotationsByMD/
 *   payload encryption  off, or on with the current key id (an invalid key setting fails)
 * With --json the LAST line of stdout is one JSON object; a failed check's value is
 * "fail: <reason>". Exit code 1 when any check failed.
 */
import type { Command } from 'commander';
import { loadStackSettings } from '../../infra/config/stack';
import { checkDataset, checkS3, checkTemporal, isbiDir, withTimeout, type CheckResult } from '../../infra/stack/checks';
import { scrubSecrets } from '../../infra/storage/s3-store';
import { payloadEncryptionStatus } from '../../infra/temporal/payload-codec';
import { reportedFailure } from '../reported-failure';

export interface DoctorReport {
  ok: boolean;
  temporal: string;
  s3: string;
  backend: string;
  tfVersion?: string;
  tfjsVersion?: string;
  /** What TensorFlow computes on, e.g. ["GPU:0 NVIDIA L4"] or ["CPU"]; empty when the backend failed. */
  devices: string[];
  /** @tensorflow/tfjs-node or @tensorflow/tfjs-node-gpu (native backend only). */
  nativePackage?: string;
  /** TF_ENABLE_ONEDNN_OPTS the native backend loaded with (infra/tf-backend.ts). */
  oneDnnOpts?: string;
  backendFallbackReason?: string;
  dataset: string;
  temporalAddress: string;
  namespace: string;
  s3Endpoint: string;
  bucket: string;
  s3Prefix: string;
  credentialSource: string;
  datasetPath: string;
  /** "off", "on" or "fail: <reason>" (an invalid key setting). */
  payloadEncryption: string;
}

function payloadEncryptionCheck(): CheckResult & { on?: boolean } {
  try {
    const { on, detail } = payloadEncryptionStatus();
    return { ok: true, on, detail };
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
}

function verdict(r: CheckResult): string {
  return r.ok ? 'ok' : `fail: ${r.reason}`;
}

export async function runDoctor(timeoutMs = 10_000): Promise<{ report: DoctorReport; details: Record<string, string> }> {
  const settings = loadStackSettings();
  const dir = isbiDir();
  const backendCheck = (async () => {
    try {
      const { initBackend } = await import('../../infra/tf-backend');
      return { ok: true as const, info: await withTimeout(initBackend(), 60_000, 'TF backend') };
    } catch (err) {
      return { ok: false as const, reason: scrubSecrets(String((err as Error).message).split('\n')[0] ?? '') };
    }
  })();
  const [temporal, s3, dataset, backend] = await Promise.all([checkTemporal(settings, timeoutMs), checkS3(settings, timeoutMs + 5_000), checkDataset(dir), backendCheck]);
  const encryption = payloadEncryptionCheck();
  const report: DoctorReport = {
    ok: temporal.ok && s3.ok && dataset.ok && backend.ok && encryption.ok,
    temporal: verdict(temporal),
    s3: verdict(s3),
    backend: backend.ok ? backend.info.backend : `fail: ${backend.reason}`,
    ...(backend.ok ? { tfVersion: backend.info.tfVersion, tfjsVersion: backend.info.tfjsVersion } : {}),
    devices: backend.ok ? backend.info.devices : [],
    ...(backend.ok && backend.info.nativePackage ? { nativePackage: backend.info.nativePackage } : {}),
    ...(backend.ok && backend.info.oneDnnOpts !== undefined ? { oneDnnOpts: backend.info.oneDnnOpts } : {}),
    ...(backend.ok && backend.info.fallbackReason ? { backendFallbackReason: backend.info.fallbackReason } : {}),
    dataset: verdict(dataset),
    temporalAddress: settings.temporal.address,
    namespace: settings.temporal.namespace,
    s3Endpoint: settings.s3.endpoint ?? `aws:${settings.s3.region}`,
    bucket: settings.s3.bucket,
    s3Prefix: settings.s3.prefix,
    credentialSource: settings.s3.credentialSource,
    datasetPath: dir,
    payloadEncryption: encryption.ok ? (encryption.on ? 'on' : 'off') : verdict(encryption),
  };
  const details = {
    temporal: temporal.ok ? temporal.detail : temporal.reason,
    s3: s3.ok ? s3.detail : s3.reason,
    backend: backend.ok
      ? `${backend.info.backend} (TensorFlow ${backend.info.tfVersion}, tfjs ${backend.info.tfjsVersion}${backend.info.nativePackage ? `, ${backend.info.nativePackage}` : ''}${backend.info.oneDnnOpts !== undefined ? `, TF_ENABLE_ONEDNN_OPTS=${backend.info.oneDnnOpts}` : ''}) on ${backend.info.devices.join(', ')}` +
        `${backend.info.fallbackReason ? `; fallback: ${backend.info.fallbackReason}` : ''}`
      : backend.reason,
    dataset: dataset.ok ? dataset.detail : dataset.reason,
    payload: `payload encryption: ${encryption.ok ? encryption.detail : encryption.reason}`,
  };
  return { report, details };
}

export function register(program: Command): void {
  program
    .command('doctor')
    .description('Check Temporal, S3, the TF backend and the dataset path')
    .option('--json', 'print the report as one JSON object on the last line')
    .option('--timeout <seconds>', 'per-service network timeout', '10')
    .action(async (opts: { json?: boolean; timeout: string }) => {
      const seconds = Number(opts.timeout);
      const { report, details } = await runDoctor(Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 10_000);
      for (const name of ['temporal', 's3', 'backend', 'dataset', 'payload'] as const) {
        const ok = name === 'backend' ? !report.backend.startsWith('fail:') : name === 'payload' ? !report.payloadEncryption.startsWith('fail:') : report[name] === 'ok';
        console.log(`${ok ? 'ok  ' : 'FAIL'} ${name.padEnd(8)} ${details[name]}`);
      }
      if (opts.json) console.log(JSON.stringify(report));
      if (!report.ok) throw reportedFailure(1, 'doctor: some checks failed');
    });
}
