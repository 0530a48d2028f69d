// An incremental HTTP/1.1 response parser and an incremental text/event-stream reader, for the
// load generator's raw client (bench/lib/raw-http.mjs).
//
// Why hand-written: the load generator shares the 2 cores with the servers it measures, so its
// client must cost as little CPU per call as it can (what wrk and h2load do). Node's own parser
// (HTTPParser) is internal API and undici's llhttp build is undici's internal file; neither is a
// public package. This parser handles what the servers under test send and rejects the rest with
// an HttpParseError instead of guessing:
//   - a status line `HTTP/1.x NNN reason`, header fields `name: value` (CRLF line ends);
//   - interim 1xx responses (skipped), 204/304 (no body);
//   - Transfer-Encoding: chunked (chunk extensions and trailer fields skipped), Content-Length
//     (repeated identical values allowed, RFC 9110 8.6), and otherwise a body read until the
//     server closes the connection (RFC 9112 6.3);
//   - keep-alive per version and the Connection header.
// Every input may arrive split at any byte; the parser keeps what it needs across calls.

import { StringDecoder } from 'node:string_decoder';

const CRLFCRLF = Buffer.from('\r\n\r\n');
/** Largest response head (status line and fields) accepted. */
export const MAX_HEAD_BYTES = 64 * 1024;
/** Longest chunk-size or trailer line accepted. */
const MAX_LINE = 8 * 1024;

/** The response does not follow HTTP/1.1's syntax (or uses a part this parser refuses). */
export class HttpParseError extends Error {
  constructor(message) {
    super(message);
    this.name = 'HttpParseError';
    this.code = 'HTTP_PARSE';
  }
}

const HEAD = 0;
const BODY_LENGTH = 1;
const CHUNK_SIZE = 2;
const CHUNK_DATA = 3;
const CHUNK_DATA_CRLF = 4;
const TRAILERS = 5;
const BODY_UNTIL_CLOSE = 6;

const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: [^\r\n]*)?$/;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const HEX = /^[0-9A-Fa-f]{1,12}$/;

/**
 * Parses a stream of HTTP/1.1 responses. `handler` gets
 *   onHead(status, headers)  headers: lowercased names -> value (repeated fields joined by ", ")
 *   onBody(chunk)            a Buffer slice of the decoded body (chunk framing removed)
 *   onEnd(keepAlive)         the response is complete; keepAlive: the connection may be reused
 * Throws {@link HttpParseError} from execute() on malformed input.
 */
export class ResponseParser {
  constructor(handler) {
    this.handler = handler;
    this.reset();
  }

  reset() {
    this.state = HEAD;
    this.partialHead = null;
    this.line = '';
    this.remaining = 0;
    this.crlfSeen = 0;
    this.keepAlive = true;
    this.inMessage = false;
    this.halted = false;
  }

  /** Ignores every byte from now on (the connection is being dropped). */
  halt() {
    this.halted = true;
  }

  /** Feeds bytes as they arrive. */
  execute(buf) {
    let pos = 0;
    const len = buf.length;
    while (pos < len && !this.halted) {
      switch (this.state) {
        case HEAD:
          pos = this.readHead(buf, pos);
          break;
        case BODY_LENGTH:
        case CHUNK_DATA: {
          const n = Math.min(this.remaining, len - pos);
          this.handler.onBody(buf.subarray(pos, pos + n));
          pos += n;
          this.remaining -= n;
          if (this.remaining === 0) {
            if (this.state === BODY_LENGTH) this.end();
            else {
              this.state = CHUNK_DATA_CRLF;
              this.crlfSeen = 0;
            }
          }
          break;
        }
        case CHUNK_DATA_CRLF: {
          const want = this.crlfSeen === 0 ? 13 : 10;
          if (buf[pos] !== want) throw new HttpParseError('chunk data not followed by CRLF');
          pos++;
          if (++this.crlfSeen === 2) this.state = CHUNK_SIZE;
          break;
        }
        case CHUNK_SIZE: {
          pos = this.readLine(buf, pos);
          if (pos < 0) return;
          const line = this.takeLine();
          const semi = line.indexOf(';');
          const hex = (semi === -1 ? line : line.slice(0, semi)).trim();
          if (!HEX.test(hex)) throw new HttpParseError(`bad chunk size line ${JSON.stringify(line.slice(0, 40))}`);
          const size = parseInt(hex, 16);
          if (size === 0) this.state = TRAILERS;
          else {
            this.remaining = size;
            this.state = CHUNK_DATA;
          }
          break;
        }
        case TRAILERS: {
          pos = this.readLine(buf, pos);
          if (pos < 0) return;
          if (this.takeLine() === '') this.end();
          break;
        }
        case BODY_UNTIL_CLOSE:
          this.handler.onBody(pos === 0 ? buf : buf.subarray(pos));
          pos = len;
          break;
      }
    }
  }

  /**
   * The connection closed (EOF). Returns true if that was a clean end: between responses, or the
   * end of a body delimited by the close; false if a response was cut short.
   */
  finish() {
    if (this.state === BODY_UNTIL_CLOSE) {
      this.end();
      return true;
    }
    return !this.inMessage;
  }

  end() {
    const keepAlive = this.keepAlive;
    this.state = HEAD;
    this.inMessage = false;
    this.partialHead = null;
    this.handler.onEnd(keepAlive);
  }

  /** Reads a line ending in LF into this.line; returns the position after it, or -1 if incomplete. */
  readLine(buf, pos) {
    const nl = buf.indexOf(10, pos);
    const stop = nl === -1 ? buf.length : nl;
    if (this.line.length + (stop - pos) > MAX_LINE) throw new HttpParseError('line too long');
    this.line += buf.toString('latin1', pos, stop);
    return nl === -1 ? -1 : nl + 1;
  }

  takeLine() {
    const l = this.line;
    this.line = '';
    return l.charCodeAt(l.length - 1) === 13 ? l.slice(0, -1) : l;
  }

  readHead(buf, pos) {
    this.inMessage = true;
    let data = buf;
    let start = pos;
    let from = pos;
    const prev = this.partialHead;
    if (prev) {
      data = Buffer.concat([prev, buf.subarray(pos)]);
      start = 0;
      from = Math.max(0, prev.length - 3); // the terminator may straddle the two
    }
    const idx = data.indexOf(CRLFCRLF, from);
    if (idx === -1) {
      if (data.length - start > MAX_HEAD_BYTES) throw new HttpParseError('response head too large');
      this.partialHead = Buffer.from(data.subarray(start)); // a copy: small, and rare
      return buf.length;
    }
    if (idx - start > MAX_HEAD_BYTES) throw new HttpParseError('response head too large');
    this.partialHead = null;
    const next = prev ? pos + (idx + 4 - prev.length) : idx + 4;
    this.parseHead(data.toString('latin1', start, idx));
    return next;
  }

  parseHead(head) {
    const lines = head.split('\r\n');
    const m = STATUS_LINE.exec(lines[0]);
    if (!m) throw new HttpParseError(`bad status line ${JSON.stringify(lines[0].slice(0, 60))}`);
    const minor = m[1];
    const status = Number(m[2]);
    const headers = {};
    for (let i = 1; i < lines.length; i++) {
      const l = lines[i];
      const colon = l.indexOf(':');
      if (colon <= 0) throw new HttpParseError(`bad header line ${JSON.stringify(l.slice(0, 60))}`);
      const name = l.slice(0, colon).toLowerCase();
      if (!TOKEN.test(name)) throw new HttpParseError(`bad header name ${JSON.stringify(name.slice(0, 60))}`);
      const value = l.slice(colon + 1).trim();
      headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
    }
    if (status < 200) {
      if (status === 101) throw new HttpParseError('101 Switching Protocols is not supported');
      // An interim response (100 Continue, 103 Early Hints): the final one follows.
      this.inMessage = false;
      return;
    }
    const connection = (headers.connection ?? '').toLowerCase();
    this.keepAlive = minor === '1' ? !/(?:^|,)\s*close\s*(?:,|$)/.test(connection) : /(?:^|,)\s*keep-alive\s*(?:,|$)/.test(connection);
    this.handler.onHead(status, headers);
    const te = headers['transfer-encoding'];
    const cl = headers['content-length'];
    if (status === 204 || status === 304) return this.end();
    if (te !== undefined) {
      if (cl !== undefined) throw new HttpParseError('both Transfer-Encoding and Content-Length');
      const codings = te.toLowerCase().split(',');
      if (codings[codings.length - 1].trim() === 'chunked') {
        this.state = CHUNK_SIZE;
        this.line = '';
      } else {
        this.state = BODY_UNTIL_CLOSE;
        this.keepAlive = false;
      }
      return;
    }
    if (cl !== undefined) {
      const values = cl.split(',').map((v) => v.trim());
      if (!values.every((v) => /^\d{1,15}$/.test(v) && v === values[0])) throw new HttpParseError(`bad Content-Length ${JSON.stringify(cl.slice(0, 40))}`);
      const n = Number(values[0]);
      if (n === 0) return this.end();
      this.remaining = n;
      this.state = BODY_LENGTH;
      return;
    }
    this.state = BODY_UNTIL_CLOSE;
    this.keepAlive = false;
  }
}

/**
 * Reads the `data:` of text/event-stream events incrementally: onData(data) per event with data
 * (multi-line data joined by "\n"). Lines end in LF or CRLF; other fields and comments are
 * ignored; a UTF-8 character split across chunks is kept whole.
 */
export class SseReader {
  constructor(onData) {
    this.onData = onData;
    this.reset();
  }

  reset() {
    this.decoder = new StringDecoder('utf8');
    this.rest = '';
    this.data = null;
  }

  push(chunk) {
    const s = this.rest + this.decoder.write(chunk);
    let start = 0;
    let nl;
    while ((nl = s.indexOf('\n', start)) !== -1) {
      let end = nl;
      if (end > start && s.charCodeAt(end - 1) === 13) end--;
      if (end === start) {
        if (this.data !== null) {
          const data = this.data;
          this.data = null;
          this.onData(data);
        }
      } else if (s.startsWith('data', start)) {
        let v = start + 4;
        if (v === end || s.charCodeAt(v) === 58) {
          if (v < end) v++; // the colon
          if (s.charCodeAt(v) === 32) v++;
          const value = s.slice(v, end);
          this.data = this.data === null ? value : `${this.data}\n${value}`;
        }
      }
      start = nl + 1;
    }
    this.rest = start === 0 ? s : s.slice(start);
    if (this.rest.length > MAX_HEAD_BYTES * 16) throw new HttpParseError('event-stream line too long');
  }
}
