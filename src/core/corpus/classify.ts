/**
 * classifyFile: should a model learn from this file? Pure, so the VS Code host (which lists
 * files itself) can reuse it. Cheap checks on the name run before any look at the bytes.
 */
import { isProse } from './languages';
import type { CorpusOptions, SkipReason } from './types';

/** Binary sniffing looks at this many leading bytes, as git does for its own NUL check. */
const SNIFF_BYTES = 8192;
/** Share of U+FFFD / control chars above which text is binary. Random bytes score ~50%;
 *  a Latin-1 file with accented comments scores a few %, so it is kept. */
const MAX_SUSPICIOUS_SHARE = 0.1;

/** Minified-shape thresholds. Hand-written code averages 30–60 chars a line and rarely has a
 *  line past a few hundred; minified bundles have lines of 10 000+. Files under 1 KB are
 *  never judged by shape (a short one-liner is fine). */
const SHAPE_MIN_BYTES = 1024;
const MAX_AVERAGE_LINE = 200;
const LONG_LINE = 2000;
/** A single long line (an embedded data URI, say) doesn't condemn a file; long lines making
 *  up most of it do. */
const MAX_LONG_LINE_SHARE = 0.5;

const MINIFIED_NAME = /\.min\.(js|mjs|cjs|css)$/i;

/** Lock files and other tool output: large, repetitive, and not what anyone writes by hand. */
const GENERATED_NAMES = new Set([
  'package-lock.json',
  'npm-shrinkwrap.json',
  'yarn.lock',
  'pnpm-lock.yaml',
  'bun.lock',
  'bun.lockb',
  'deno.lock',
  'Cargo.lock',
  'poetry.lock',
  'Pipfile.lock',
  'uv.lock',
  'composer.lock',
  'Gemfile.lock',
  'Podfile.lock',
  'pubspec.lock',
  'mix.lock',
  'flake.lock',
  'packages.lock.json',
  'gradle.lockfile',
  'go.sum',
]);
const GENERATED_EXTENSION = /\.map$/i; // source maps
const MARKER_LINES = 5;
/** Header markers that tools write (Go's "Code generated … DO NOT EDIT.", Meta's at-generated, …).
 *  'DO NOT EDIT' is case-sensitive: the convention shouts, and lowercase "do not edit" is prose. */
const GENERATED_MARKERS = [/@generated\b/, /DO NOT EDIT/, /auto-?generated/i, /automatically generated/i];

export function classifyFile(relPath: string, bytes: Uint8Array, opts: CorpusOptions): SkipReason | null {
  if (isBlank(bytes)) return 'empty';
  if (bytes.length > opts.maxFileBytes) return 'too-large';
  const name = relPath.slice(relPath.lastIndexOf('/') + 1);
  if (GENERATED_NAMES.has(name) || GENERATED_EXTENSION.test(name)) return 'generated';
  if (MINIFIED_NAME.test(name)) return 'minified';
  if (looksBinary(bytes)) return 'binary';
  if (hasGeneratedMarker(bytes)) return 'generated';
  if (!isProse(relPath) && looksMinified(bytes)) return 'minified';
  return null;
}

/** Zero bytes, or only whitespace: nothing to learn. */
function isBlank(bytes: Uint8Array): boolean {
  for (const b of bytes) {
    if (b !== 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d && b !== 0x0c && b !== 0x0b) return false;
  }
  return true;
}

export function looksBinary(bytes: Uint8Array): boolean {
  const sample = bytes.subarray(0, SNIFF_BYTES);
  if (sample.includes(0)) return true;
  // stream: true holds back a multi-byte character cut by the sample's end instead of flagging it.
  const text = new TextDecoder('utf-8').decode(sample, { stream: true });
  let suspicious = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const control = (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d && c !== 0x0c && c !== 0x1b) || c === 0x7f;
    if (control || c === 0xfffd) suspicious++;
  }
  return text.length > 0 && suspicious / text.length > MAX_SUSPICIOUS_SHARE;
}

function hasGeneratedMarker(bytes: Uint8Array): boolean {
  const head = new TextDecoder('utf-8').decode(bytes.subarray(0, 4096));
  const lines = head.split('\n', MARKER_LINES);
  return lines.some((line) => GENERATED_MARKERS.some((marker) => marker.test(line)));
}

export function looksMinified(bytes: Uint8Array): boolean {
  if (bytes.length <= SHAPE_MIN_BYTES) return false;
  // Count on raw bytes: cheap, and a UTF-8 char's extra bytes don't matter at these thresholds.
  let lines = 0;
  let longLineBytes = 0;
  let start = 0;
  for (let i = 0; i <= bytes.length; i++) {
    if (i === bytes.length || bytes[i] === 0x0a) {
      const length = i - start;
      if (i < bytes.length || length > 0) lines++;
      if (length > LONG_LINE) longLineBytes += length;
      start = i + 1;
    }
  }
  return bytes.length / lines > MAX_AVERAGE_LINE || longLineBytes / bytes.length > MAX_LONG_LINE_SHARE;
}
