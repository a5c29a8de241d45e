// One structured logger for every ateflow process (pino: JSON lines, cheap when disabled).
import pino from 'pino';
import type { LogLevel, LogMetadata, Logger as TemporalLogger } from '@temporalio/common';

export const logger = pino({
  name: 'ateflow',
  level: process.env.ATEFLOW_LOG_LEVEL ?? 'info',
  // The sandbox token must never reach a log line, whatever object carries it.
  redact: { paths: ['*.sandboxToken', '*.sandbox_token', 'sandboxToken'], censor: '[redacted]' },
});

const pinoLevels: Record<LogLevel, pino.Level> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/** Metadata the SDK adds to every activity or workflow line that only adds noise to ours. */
const noise = new Set(['taskToken', 'namespace', 'taskQueue', 'isLocal', 'workflowRunId', 'runId']);

/**
 * The Temporal SDK's logger for `Runtime.install({ logger: temporalLogger() })`: its lines (the
 * worker's, the activities', the workflows' `log.*`, and Core's when forwarded) become pino lines
 * of `base`, filtered by `base`'s level when they are logged (so `logger.level = 'warn'` quiets
 * them too). An activity failure is one line that names the activity, the attempt and the reason;
 * the error's stack (and the SDK's bookkeeping fields) only at debug level.
 *
 * It is the SDK's `Logger` interface rather than a `DefaultLogger` with a forwarding function:
 * the same thing without loading `@temporalio/worker` (and its native bridge) into every process
 * that imports this module, and with the level read from pino at each call.
 */
export function temporalLogger(base: pino.Logger = logger): TemporalLogger {
  const sdk = base.child({ component: 'temporal' });
  const log = (level: LogLevel, message: string, meta: LogMetadata = {}) => {
    const pinoLevel = pinoLevels[level] ?? 'info';
    if (!sdk.isLevelEnabled(pinoLevel)) return;
    const debug = sdk.isLevelEnabled('debug');
    const { error, sdkComponent, ...rest } = meta as LogMetadata & { error?: unknown; sdkComponent?: string };
    const fields: Record<string, unknown> = { sdk: sdkComponent };
    for (const [key, value] of Object.entries(rest)) {
      if (debug || !noise.has(key)) fields[key] = value;
    }
    let line = message;
    if (error !== undefined) {
      const reason = reasonOf(error);
      fields.error = reason;
      if (debug) fields.err = error; // pino's serializer: type, message, stack, cause
      if (message === 'Activity failed') {
        const attempt = typeof rest.attempt === 'number' ? ` (attempt ${rest.attempt})` : '';
        const activity = typeof rest.activityType === 'string' ? ` ${rest.activityType}` : '';
        line = `activity${activity} failed${attempt}: ${reason}`;
      } else {
        line = `${message}: ${reason}`;
      }
    }
    sdk[pinoLevel](fields, line);
  };
  return {
    log,
    trace: (message, meta) => log('TRACE', message, meta),
    debug: (message, meta) => log('DEBUG', message, meta),
    info: (message, meta) => log('INFO', message, meta),
    warn: (message, meta) => log('WARN', message, meta),
    error: (message, meta) => log('ERROR', message, meta),
  };
}

/** An error as one line: its message, its failure type when it has one, and whether it retries. */
function reasonOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const { type, nonRetryable } = error as Error & { type?: string | null; nonRetryable?: boolean };
  const kind = [type, nonRetryable ? 'not retried' : undefined].filter(Boolean).join(', ');
  return `${error.message.split('\n')[0]}${kind ? ` [${kind}]` : ''}`;
}
