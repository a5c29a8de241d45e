// Request validation with upstream's exact messages: internal/resources (actor names,
// atespaces) and k8s.io/apimachinery label rules (worker selectors) as vendored by substrate
// 86e138f6 (apimachinery v0.36.1, pkg/api/validate/content: lengths are counted and worded in
// bytes, label keys are "a valid label key").
import type { Selector } from '../gen/ateapi';
import { invalidArgument } from './errors';
import type { Random } from './random';

/** Go's len(): the UTF-8 byte length. */
const byteLength = (value: string) => Buffer.byteLength(value, 'utf8');

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_LABEL_RULE =
  "must start and end with a lower case alphanumeric character, and consist only of lower case alphanumeric characters or '-'";

/** internal/resources' own check (its message still says characters; it counts bytes). */
function dns1123LabelProblem(value: string): string | undefined {
  if (byteLength(value) > 63) return 'must be no more than 63 characters';
  if (!DNS1123_LABEL.test(value)) return DNS1123_LABEL_RULE;
  return undefined;
}

/** resources.ValidateActorID; throws InvalidArgument "invalid actor_id: …". */
export function validateActorName(name: string): void {
  const problem = dns1123LabelProblem(name);
  if (problem) throw invalidArgument(`invalid actor_id: ${problem}`);
}

/** resources.ValidateAtespace; throws InvalidArgument "invalid atespace: …". */
export function validateAtespace(name: string): void {
  const problem = dns1123LabelProblem(name);
  if (problem) throw invalidArgument(`invalid atespace: ${problem}`);
}

/** True when `name` is a valid DNS-1123 label (actor names, atespaces, node names). */
export const isDns1123Label = (name: string): boolean => dns1123LabelProblem(name) === undefined;

// --- k8s.io/apimachinery/pkg/api/validate/content ---

const QUALIFIED_NAME_FMT = '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]';
const QUALIFIED_NAME = new RegExp(`^${QUALIFIED_NAME_FMT}$`);
const LABEL_VALUE_FMT = `(${QUALIFIED_NAME_FMT})?`;
const LABEL_VALUE = new RegExp(`^${LABEL_VALUE_FMT}$`);
const DNS1123_SUBDOMAIN_FMT = '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*';
const DNS1123_SUBDOMAIN = new RegExp(`^${DNS1123_SUBDOMAIN_FMT}$`);

function regexError(message: string, format: string, ...examples: string[]): string {
  const shown = examples.map((e, i) => `${i > 0 ? ' or ' : ''}'${e}', `).join('');
  return `${message} (e.g. ${shown}regex used for validation is '${format}')`;
}

const maxLenError = (length: number) => `must be no more than ${length} bytes`;

const LABEL_KEY_RULE = regexError(
  "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
  QUALIFIED_NAME_FMT,
  'MyName',
  'my.name',
  '123-abc',
);

function dns1123SubdomainErrors(value: string): string[] {
  const errs: string[] = [];
  if (byteLength(value) > 253) errs.push(maxLenError(253));
  if (!DNS1123_SUBDOMAIN.test(value)) {
    errs.push(
      regexError(
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
        DNS1123_SUBDOMAIN_FMT,
        'example.com',
      ),
    );
  }
  return errs;
}

/** validation.IsQualifiedName = content.IsLabelKey (label keys such as "ate.dev/tier"). */
export function qualifiedNameErrors(value: string): string[] {
  const errs: string[] = [];
  const parts = value.split('/');
  let name: string;
  if (parts.length === 1) {
    name = parts[0]!;
  } else if (parts.length === 2) {
    const prefix = parts[0];
    name = parts[1]!;
    if (prefix.length === 0) errs.push('prefix part must be non-empty');
    else errs.push(...dns1123SubdomainErrors(prefix).map((e) => `prefix part ${e}`));
  } else {
    return [
      `a valid label key ${LABEL_KEY_RULE} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`,
    ];
  }
  if (name.length === 0) errs.push('name part must be non-empty');
  else if (byteLength(name) > 63) errs.push(`name part ${maxLenError(63)}`);
  if (!QUALIFIED_NAME.test(name)) errs.push(`name part ${LABEL_KEY_RULE}`);
  return errs;
}

/** validation.IsValidLabelValue = content.IsLabelValue. */
export function labelValueErrors(value: string): string[] {
  const errs: string[] = [];
  if (byteLength(value) > 63) errs.push(maxLenError(63));
  if (!LABEL_VALUE.test(value)) {
    errs.push(
      regexError(
        "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
        LABEL_VALUE_FMT,
        'MyValue',
        'my_value',
        '12345',
      ),
    );
  }
  return errs;
}

const MAX_SELECTOR_LABELS = 10;

/**
 * The order in which Go ranges over a small map: a random rotation. A map of up to 8 entries
 * is one group of 8 slots in insertion order; iteration starts at a random slot and wraps,
 * skipping empty ones. Larger maps (9 or 10 labels here) are rotated at a random key.
 */
export function goMapOrder<T>(items: readonly T[], random: Random): T[] {
  if (items.length <= 1) return [...items];
  const slots = items.length <= 8 ? 8 : items.length;
  const offset = random.int(slots);
  const order: T[] = [];
  for (let i = 0; i < slots; i++) {
    const slot = (offset + i) % slots;
    if (slot < items.length) order.push(items[slot]);
  }
  return order;
}

/**
 * controlapi.validateSelector (create_actor.go). Upstream ranges over the Go map, so with several
 * invalid labels the one reported is picked at random; so it is here (`random`), in the
 * request's label order otherwise.
 */
export function validateSelector(selector: Selector | undefined, random?: Random): void {
  const labels = selector?.matchLabels ?? {};
  const inOrder = Object.keys(labels);
  const keys = random ? goMapOrder(inOrder, random) : inOrder;
  if (keys.length > MAX_SELECTOR_LABELS) {
    throw invalidArgument(
      `worker_selector has ${keys.length} match_labels entries, exceeding the limit of ${MAX_SELECTOR_LABELS}`,
    );
  }
  for (const key of keys) {
    const keyErrs = qualifiedNameErrors(key);
    if (keyErrs.length > 0) {
      throw invalidArgument(`invalid worker_selector label key ${goQuote(key)}: ${keyErrs.join('; ')}`);
    }
    const value = labels[key];
    const valueErrs = labelValueErrors(value);
    if (valueErrs.length > 0) {
      throw invalidArgument(
        `invalid worker_selector label value ${goQuote(value)} for key ${goQuote(key)}: ${valueErrs.join('; ')}`,
      );
    }
  }
}

const GO_ESCAPES: Record<string, string> = {
  '\x07': '\\a',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\v': '\\v',
  '\\': '\\\\',
  '"': '\\"',
};

/** Go's %q for a string: double quotes, Go escapes, printable Unicode kept as is. */
export function goQuote(value: string): string {
  let out = '"';
  for (const ch of value) {
    const cp = ch.codePointAt(0)!;
    if (GO_ESCAPES[ch]) out += GO_ESCAPES[ch];
    else if (cp < 0x20 || cp === 0x7f) out += `\\x${cp.toString(16).padStart(2, '0')}`;
    else if ((cp >= 0x80 && cp <= 0xa0) || cp === 0xad) out += `\\u${cp.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}
