// One structured logger for every ateflow process (pino: JSON lines, cheap when disabled).
import pino from 'pino';

export const logger = pino({
  name: 'ateflow',
  level: process.env.ATEFLOW_LOG_LEVEL ?? 'info',
  // The sandbox token must never reach a log line, whatever object carries it.
  redact: { paths: ['*.sandboxToken', '*.sandbox_token', 'sandboxToken'], censor: '[redacted]' },
});
