/**
 * Below this many characters a JSON text is not scanned: it cannot nest deep enough to cost much
 * (V8 parses about a million levels a second, so 32k levels take some 30 ms), and the scan would
 * only add work to every ordinary message.
 */
export const DEPTH_SCAN_FROM = 64 * 1024;

/**
 * Whether the JSON text nests arrays and objects deeper than `max`, found by one pass over the
 * text before it is parsed: a few megabytes of `[[[[...` cost V8's JSON.parse about a second
 * of blocked event loop, while this pass costs milliseconds. Text that is not JSON is scanned
 * as if it were; the parser refuses it afterwards.
 */
export function nestsDeeperThan(text: string, max: number): boolean {
  if (text.length <= DEPTH_SCAN_FROM || text.length <= max) return false;
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      // Jump over the string with the engine's own search: most of a large message is strings.
      i = closingQuote(text, i);
      if (i < 0) return false;
    } else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (++depth > max) return true;
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) {
      depth--;
    }
  }
  return false;
}

/** Index of the quote that closes the string opened at `open`, or -1. */
function closingQuote(text: string, open: number): number {
  let at = open;
  for (;;) {
    at = text.indexOf('"', at + 1);
    if (at < 0) return -1;
    let backslashes = 0;
    while (text.charCodeAt(at - 1 - backslashes) === 0x5c /* \ */) backslashes++;
    if (backslashes % 2 === 0) return at;
  }
}
