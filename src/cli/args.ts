// Parsers for option and argument values: a bad value is a usage error that commander prints
// with the option's name (exit code 1, src/cli/exit.ts).
import { InvalidArgumentError } from 'commander';
import { parseDuration } from '../durations';

/** A duration ("30s", "5m", "1h30m", "250ms", plain seconds) in milliseconds. */
export function duration(text: string): number {
  try {
    return parseDuration(text);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

/** A duration longer than 0, e.g. a --timeout. */
export function positiveDuration(text: string): number {
  const ms = duration(text);
  if (ms <= 0) throw new InvalidArgumentError('must be longer than 0');
  return ms;
}

/** Checks a duration and keeps its text (for a server that reads the text itself). */
export function durationText(text: string): string {
  duration(text);
  return text;
}

/** A whole number >= `min`. */
export const wholeNumber =
  (min: number) =>
  (text: string): number => {
    const n = Number(text);
    if (text.trim() === '' || !Number.isInteger(n) || n < min) {
      throw new InvalidArgumentError(`must be a whole number of at least ${min}`);
    }
    return n;
  };

/** A number >= 0, e.g. a latency scale. */
export function nonNegative(text: string): number {
  const n = Number(text);
  if (text.trim() === '' || !(n >= 0)) throw new InvalidArgumentError('must be a number >= 0');
  return n;
}
