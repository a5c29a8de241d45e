// Request validation with upstream's exact messages: internal/resources (actor names,
// atespaces) and k8s.io/apimachinery label rules (worker selectors).
import type { Selector } from '../gen/ateapi';
import { invalidArgument } from './errors';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_LABEL_RULE =
  "must start and end with a lower case alphanumeric character, and consist only of lower case alphanumeric characters or '-'";

function dns1123LabelProblem(value: string): string | undefined {
  if (value.length > 63) return 'must be no more than 63 characters';
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

// --- k8s.io/apimachinery/pkg/util/validation ---

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

const QUALIFIED_NAME_RULE = regexError(
  "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
  QUALIFIED_NAME_FMT,
  'MyName',
  'my.name',
  '123-abc',
);

function dns1123SubdomainErrors(value: string): string[] {
  const errs: string[] = [];
  if (value.length > 253) errs.push('must be no more than 253 characters');
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

/** validation.IsQualifiedName (label keys such as "ate.dev/tier"). */
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
      `a qualified name ${QUALIFIED_NAME_RULE} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`,
    ];
  }
  if (name.length === 0) errs.push('name part must be non-empty');
  else if (name.length > 63) errs.push('name part must be no more than 63 characters');
  if (!QUALIFIED_NAME.test(name)) errs.push(`name part ${QUALIFIED_NAME_RULE}`);
  return errs;
}

/** validation.IsValidLabelValue. */
export function labelValueErrors(value: string): string[] {
  const errs: string[] = [];
  if (value.length > 63) errs.push('must be no more than 63 characters');
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
 * controlapi.validateSelector. Upstream walks a Go map (random order); we check keys in
 * sorted order so the reported label is deterministic.
 */
export function validateSelector(selector: Selector | undefined): void {
  const labels = selector?.matchLabels ?? {};
  const keys = Object.keys(labels).sort();
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
