/**
 * A sans-IO HTTP/1.1 server connection (RFC 9112): bytes in → events out, response bytes out. No I/O, no timers,
 * no `node:` imports. One request is parsed at a time: pipelined requests wait (bounded) until the response to
 * the one before has ended, as RFC 9112 §9.3.2 requires responses in request order.
 *
 * Framing is the engine's: it chooses Content-Length, chunked or close-delimited for the response, never writes
 * past a declared length, and decides whether the connection persists (RFC 9112 §9.3).
 */
import { HeadError, isFieldValue, isToken, parseFieldLines, parseRequestLine, requestFraming } from './fields.js';
import type { FieldList, H1Event, H1Limits, H1Options, RequestHead, ResponseHeadOptions } from './types.js';
import { DEFAULT_H1_LIMITS } from './limits.js';
import { reasonPhrase } from './status.js';
import { ByteQueue } from '../common/bytes.js';
import { latin1Bytes, messageBytes, utf8Bytes } from './output.js';

const CR = 0x0d;
const LF = 0x0a;
const EMPTY = new Uint8Array(0);

const enum Input {
  /** Reading a request head (or waiting for the previous response before reading the next one). */
  Head,
  LengthBody,
  ChunkSize,
  ChunkData,
  /** The CRLF after chunk data. */
  ChunkDataEnd,
  Trailers,
  /** The request is complete; the next head waits for the response. */
  RequestDone,
  Tunnel,
  Closed,
}

const enum Output {
  /** No request to answer. */
  Idle,
  /** A request arrived; no response head yet. */
  AwaitingHead,
  Body,
  /** The response ended; the engine decides what is next once the request is read too. */
  Ended,
  Tunnel,
  Closed,
}

type BodyMode = 'none' | 'length' | 'chunked' | 'close';

/** The caller broke the response framing (more bytes than declared, or fewer at the end): the connection closes. */
export class FramingError extends Error {
  override name = 'FramingError';
}

const asciiDecoder = new TextDecoder();

function latin1String(bytes: Uint8Array, start: number, end: number): string {
  let out = '';
  for (let i = start; i < end; i += 8192) {
    out += String.fromCharCode.apply(null, bytes.subarray(i, Math.min(end, i + 8192)) as unknown as number[]);
  }
  return out;
}

/**
 * `text` cut at each CRLF into `count` lines (scanHead counted them; a bare CR stays inside its line). What
 * String.prototype.split does, without its cost on a string it has not seen before (several times this loop's).
 */
function splitLines(text: string, count: number): string[] {
  const lines = new Array<string>(count);
  let start = 0;
  for (let k = 0; k < count - 1; k++) {
    const end = text.indexOf('\r\n', start);
    lines[k] = text.slice(start, end);
    start = end + 2;
  }
  lines[count - 1] = text.slice(start);
  return lines;
}

/** Fields the engine writes itself: a caller's copy would contradict the framing it chose (RFC 9112 §6, §9.6). */
const FRAMING_FIELDS = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'proxy-connection']);

export class H1Connection {
  readonly limits: Readonly<H1Limits>;

  private input = Input.Head;
  private output = Output.Idle;

  /** Unconsumed input (only when a read did not end on a message boundary, or requests are pipelined). */
  private buffer = new Uint8Array(0);
  private bufferStart = 0;
  private bufferEnd = 0;
  /** Head scanning state, offsets relative to the start of unconsumed input. */
  private headScanFrom = 0;
  /** Where the head starts (after ignored empty lines) and where its current line starts. */
  private headStart = 0;
  private headLineStart = 0;
  private headLines = 0;
  /** The head has bytes above 0x7f (obs-text): decode it byte by byte instead of with the ASCII fast path. */
  private headHighByte = false;
  private leadingEmptyLines = 0;

  private request: RequestHead | undefined;
  private bodyRemaining = 0;
  private chunkRemaining = 0;
  private chunkEndSeen = 0;
  /** The response ended before the request content: the rest is read and dropped. */
  private discarding = false;
  private discarded = 0;
  private continueSent = false;

  private isHead = false;
  /** The head being written is a 101 or a 2xx to CONNECT. */
  private headStartsTunnel = false;
  private bodyMode: BodyMode = 'none';
  private responseRemaining = 0;
  /** This response is the connection's last. */
  private closeAfterResponse = false;
  private peerEnded = false;

  private readonly out = new ByteQueue();

  private readonly options: H1Options;

  constructor(options: H1Options = {}) {
    this.limits = Object.freeze({ ...DEFAULT_H1_LIMITS, ...options.limits });
    this.options = options;
  }

  // ------------------------------------------------------------------ state

  /** Nothing more will happen: write what dataToSend() returns, then close the transport. */
  get isDone(): boolean {
    return (this.output === Output.Closed || this.input === Input.Closed) && this.out.length === 0 && this.output !== Output.Body && this.output !== Output.AwaitingHead;
  }

  /** False while pipelined input above maxPipelineBytes waits for a response: stop reading the transport. */
  get wantsInput(): boolean {
    if (this.input === Input.Closed) return false;
    return this.bufferEnd - this.bufferStart < this.limits.maxPipelineBytes;
  }

  /** The request being answered (undefined between requests). */
  get currentRequest(): RequestHead | undefined {
    return this.request;
  }

  get bufferedOutputBytes(): number {
    return this.out.length;
  }

  /** Input received and not parsed yet: a partial head, or pipelined requests waiting for the current response. */
  get bufferedInputBytes(): number {
    return this.bufferEnd - this.bufferStart;
  }

  // ------------------------------------------------------------------ input

  /** Feeds bytes read from the transport. Never throws on peer input. */
  receive(bytes: Uint8Array): H1Event[] {
    const events: H1Event[] = [];
    if (this.input === Input.Closed) return events;
    if (this.bufferEnd === this.bufferStart) {
      const consumed = this.parse(bytes, events);
      if (consumed < bytes.byteLength && (this.input as Input) !== Input.Closed) this.append(bytes.subarray(consumed));
    } else {
      this.append(bytes);
      this.parseBuffered(events);
    }
    return events;
  }

  /** The peer half-closed (FIN). */
  receiveEnd(): H1Event[] {
    const events: H1Event[] = [];
    if (this.peerEnded) return events;
    this.peerEnded = true;
    const midRequest = this.input !== Input.Head && this.input !== Input.RequestDone && this.input !== Input.Tunnel && this.input !== Input.Closed;
    const partialHead = this.input === Input.Head && this.bufferEnd > this.bufferStart && this.output === Output.Idle;
    events.push({ type: 'inputEnded' });
    if (midRequest) {
      // The request content was cut short: nothing can be answered reliably.
      this.input = Input.Closed;
      if (this.output === Output.Idle || this.output === Output.Ended) this.output = Output.Closed;
    } else if (partialHead) {
      this.fail(400, 'connection closed inside a request head', events);
    } else if (this.input !== Input.Tunnel) {
      // RFC 9112 §9.6: a client that half-closed sends no more requests; finish the current response, then close.
      this.closeAfterResponse = true;
      if (this.output === Output.Idle) {
        this.input = Input.Closed;
        this.output = Output.Closed;
      }
    }
    return events;
  }

  /** Parses input that waited (pipelined requests) once a response ended. */
  pollEvents(): H1Event[] {
    const events: H1Event[] = [];
    if (this.bufferEnd > this.bufferStart && this.input !== Input.Closed) this.parseBuffered(events);
    return events;
  }

  private append(bytes: Uint8Array): void {
    const length = this.bufferEnd - this.bufferStart;
    if (this.bufferEnd + bytes.byteLength > this.buffer.byteLength) {
      const capacity = Math.max(1024, (length + bytes.byteLength) * 2);
      const next = new Uint8Array(capacity);
      next.set(this.buffer.subarray(this.bufferStart, this.bufferEnd), 0);
      this.buffer = next;
      this.bufferStart = 0;
      this.bufferEnd = length;
    }
    this.buffer.set(bytes, this.bufferEnd);
    this.bufferEnd += bytes.byteLength;
  }

  private parseBuffered(events: H1Event[]): void {
    const consumed = this.parse(this.buffer.subarray(this.bufferStart, this.bufferEnd), events);
    this.bufferStart += consumed;
    if (this.bufferStart === this.bufferEnd || this.input === Input.Closed) {
      this.bufferStart = this.bufferEnd = 0;
      if (this.buffer.byteLength > 64 * 1024) this.buffer = new Uint8Array(0);
    }
  }

  /** Parses what it can of `view`; returns how many bytes were consumed. Data events are views into `view`. */
  private parse(view: Uint8Array, events: H1Event[]): number {
    let offset = 0;
    const length = view.byteLength;
    try {
      while (offset < length) {
        switch (this.input) {
          case Input.Head: {
            if (this.output !== Output.Idle) return offset; // pipelined: wait for the response in progress
            const end = this.scanHead(view, offset);
            if (end === -1) return offset;
            this.startRequest(view, offset, end, events);
            offset = end;
            break;
          }
          case Input.LengthBody: {
            const take = Math.min(this.bodyRemaining, length - offset);
            this.content(view.subarray(offset, offset + take), events);
            offset += take;
            this.bodyRemaining -= take;
            if (this.bodyRemaining === 0) this.endRequest(events);
            break;
          }
          case Input.ChunkSize: {
            const lineEnd = this.findLineEnd(view, offset, 18 + this.limits.maxChunkExtensionBytes, 'chunk-size line', 413);
            if (lineEnd === -1) return offset;
            this.chunkSize(latin1String(view, offset, lineEnd - 1), events);
            offset = lineEnd + 1;
            break;
          }
          case Input.ChunkData: {
            const take = Math.min(this.chunkRemaining, length - offset);
            this.content(view.subarray(offset, offset + take), events);
            offset += take;
            this.chunkRemaining -= take;
            if (this.chunkRemaining === 0) {
              this.input = Input.ChunkDataEnd;
              this.chunkEndSeen = 0;
            }
            break;
          }
          case Input.ChunkDataEnd: {
            // RFC 9112 §7.1: chunk-data CRLF — exactly, also when split across reads.
            const expected = this.chunkEndSeen === 0 ? CR : LF;
            if (view[offset] !== expected) throw new HeadError(400, 'chunk data not followed by CRLF');
            offset++;
            if (++this.chunkEndSeen === 2) this.input = Input.ChunkSize;
            break;
          }
          case Input.Trailers: {
            const end = this.scanHead(view, offset);
            if (end === -1) return offset;
            this.trailers(view, offset, end, events);
            offset = end;
            break;
          }
          case Input.RequestDone:
            // The request is complete and its response not: the next request waits in the buffer.
            return offset;
          case Input.Tunnel:
            events.push({ type: 'tunnelData', data: view.subarray(offset) });
            return length;
          case Input.Closed:
            return length;
        }
      }
    } catch (error) {
      if (!(error instanceof HeadError)) throw error;
      this.fail(error.status, error.reason, events);
      return length;
    }
    return offset;
  }

  /**
   * Finds the end of a head (or trailer section) from `from`: the offset after its empty line, or -1 when more
   * input is needed. Lines end in CRLF only: a bare LF is refused (RFC 9112 §2.2 allows a recipient to accept a
   * bare LF; refusing it keeps our reading identical to that of any strict intermediary: no smuggling by line
   * ends), and a bare CR fails the field and request-line checks (it is a control character).
   */
  private scanHead(view: Uint8Array, from: number): number {
    const limit = this.limits.maxHeadBytes;
    const length = view.byteLength;
    let lineStart = from + this.headLineStart;
    for (let i = from + this.headScanFrom; i < length; i++) {
      const byte = view[i]!;
      if (byte !== LF) {
        if (byte >= 0x80) this.headHighByte = true;
        continue;
      }
      if (i === from || view[i - 1] !== CR) throw new HeadError(400, 'bare LF in the request head');
      if (i + 1 - from > limit) throw new HeadError(431, `request head over ${limit} bytes`);
      if (i - 1 === lineStart) {
        if (this.headLines === 0 && this.input === Input.Head) {
          // RFC 9112 §2.2: empty lines before the request-line are ignored (a few).
          if (++this.leadingEmptyLines > this.limits.maxLeadingEmptyLines) throw new HeadError(400, 'too many empty lines before the request');
          lineStart = i + 1;
          this.headStart = lineStart - from;
          continue;
        }
        this.headScanFrom = this.headLineStart = 0;
        return i + 1;
      }
      if (++this.headLines > this.limits.maxFields + 1) throw new HeadError(431, `more than ${this.limits.maxFields} field lines`);
      lineStart = i + 1;
    }
    if (length - from > limit) throw new HeadError(431, `request head over ${limit} bytes`);
    this.headScanFrom = length - from;
    this.headLineStart = lineStart - from;
    return -1;
  }

  /** The lines of the head (or trailer section) scanHead() just delimited, without their CRLFs. */
  private takeHeadLines(view: Uint8Array, from: number, end: number): string[] {
    const start = from + this.headStart;
    const lines = this.headLines;
    const highByte = this.headHighByte;
    this.headStart = this.headLines = 0;
    this.headHighByte = false;
    if (lines === 0) return [];
    // The last line's CRLF and the empty line's CRLF end the section.
    const text = highByte ? latin1String(view, start, end - 4) : asciiDecoder.decode(view.subarray(start, end - 4));
    return splitLines(text, lines);
  }

  private startRequest(view: Uint8Array, from: number, end: number, events: H1Event[]): void {
    const lines = this.takeHeadLines(view, from, end);
    this.leadingEmptyLines = 0;
    const line = parseRequestLine(lines[0]!, this.limits, this.options);
    lines[0] = '';
    const fields = parseFieldLines(lines, 1, this.limits);
    const contentLimit = this.limits.maxHeadContentBytes;
    if (contentLimit !== Number.POSITIVE_INFINITY) {
      let content = line.target.length;
      for (let i = 0; i < fields.length; i++) content += fields[i]!.length;
      if (content > contentLimit) throw new HeadError(431, `request head fields over ${contentLimit} bytes`);
    }
    const framing = requestFraming(line.method, line.target, line.minorVersion, fields, this.options.singleContentLength === true);
    // One object is both the event and the remembered head.
    const request: Extract<H1Event, { type: 'request' }> = {
      type: 'request',
      method: line.method,
      target: line.target,
      minorVersion: line.minorVersion,
      fields,
      authority: framing.authority,
      bodyKind: framing.bodyKind,
      contentLength: framing.contentLength,
      expectContinue: framing.expectContinue,
      upgrade: framing.upgrade,
      keepAlive: framing.keepAlive,
    };
    this.request = request;
    this.isHead = request.method === 'HEAD';
    this.discarding = false;
    this.discarded = 0;
    this.continueSent = false;
    this.closeAfterResponse = !request.keepAlive || this.peerEnded;
    this.output = Output.AwaitingHead;
    events.push(request);
    if (request.bodyKind === 'length') {
      this.input = Input.LengthBody;
      this.bodyRemaining = request.contentLength;
    } else if (request.bodyKind === 'chunked') {
      this.input = Input.ChunkSize;
    } else {
      this.endRequest(events);
    }
  }

  private content(data: Uint8Array, events: H1Event[]): void {
    if (data.byteLength === 0) return;
    if (this.discarding) {
      this.discarded += data.byteLength;
      // A chunked body can be endless: past the bound, stop reading and close.
      if (this.discarded > this.limits.maxDiscardBytes) {
        this.input = Input.Closed;
        this.output = Output.Closed;
      }
      return;
    }
    events.push({ type: 'data', data });
  }

  /** RFC 9112 §7.1: chunk-size [ chunk-ext ], hex, with bounded extensions (ignored). */
  private chunkSize(line: string, events: H1Event[]): void {
    let end = 0;
    while (end < line.length && /[0-9A-Fa-f]/.test(line[end]!)) end++;
    if (end === 0) throw new HeadError(400, 'invalid chunk size');
    const digits = line.slice(0, end).replace(/^0+(?=.)/, '');
    if (digits.length > 13) throw new HeadError(400, 'chunk size too large');
    const rest = line.slice(end);
    if (rest.length > 0) {
      // chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
      if (!/^[ \t]*;/.test(rest)) throw new HeadError(400, 'invalid chunk-size line');
      if (rest.length > this.limits.maxChunkExtensionBytes) throw new HeadError(413, 'chunk extensions too long');
      if (!isFieldValue(rest)) throw new HeadError(400, 'invalid characters in chunk extensions');
    }
    const size = parseInt(digits, 16);
    if (size === 0) {
      this.input = Input.Trailers;
      return;
    }
    this.chunkRemaining = size;
    this.input = Input.ChunkData;
    void events;
  }

  private trailers(view: Uint8Array, from: number, end: number, events: H1Event[]): void {
    const lines = this.takeHeadLines(view, from, end);
    if (lines.length > 0) {
      const fields = parseFieldLines(lines, 0, this.limits);
      if (!this.discarding) events.push({ type: 'trailers', fields });
    }
    this.endRequest(events);
  }

  /**
   * Finds the LF ending a line that starts at `from` within `maxBytes`; -1 when more input is needed. A longer line
   * is refused with `overflowStatus` (413 for chunk extensions: content the client piles up, as node:http answers).
   */
  private findLineEnd(view: Uint8Array, from: number, maxBytes: number, what: string, overflowStatus = 400): number {
    const stop = Math.min(view.byteLength, from + maxBytes + 2);
    for (let i = from; i < stop; i++) {
      if (view[i] !== LF) continue;
      if (i === from || view[i - 1] !== CR) throw new HeadError(400, `bare LF in a ${what}`);
      return i;
    }
    if (view.byteLength - from > maxBytes + 2) throw new HeadError(overflowStatus, `${what} too long`);
    return -1;
  }

  private endRequest(events: H1Event[]): void {
    if (!this.discarding) events.push({ type: 'requestEnded' });
    this.input = Input.RequestDone;
    if (this.output === Output.Ended) this.finishExchange();
  }

  /** A protocol error: queue the error response if none started, end the connection after it. */
  private fail(status: number, reason: string, events: H1Event[]): void {
    events.push({ type: 'protocolError', status, reason });
    this.input = Input.Closed;
    this.bufferStart = this.bufferEnd = 0;
    if (this.output === Output.Idle || this.output === Output.AwaitingHead) {
      const body = latin1Bytes(`${status} ${reasonPhrase(status)}\n`);
      this.queue(latin1Bytes(`HTTP/1.1 ${status} ${reasonPhrase(status)}\r\ncontent-type: text/plain\r\ncontent-length: ${body.byteLength}\r\nconnection: close\r\n\r\n`));
      this.queue(body);
      this.output = Output.Closed;
    } else if (this.output !== Output.Body) {
      this.output = Output.Closed;
    }
    this.closeAfterResponse = true;
    this.request = undefined;
  }

  // ----------------------------------------------------------------- output

  /**
   * An informational response (RFC 9110 §15.2): 100 Continue or 103 Early Hints. Not sent to HTTP/1.0 clients
   * ("a server MUST NOT send a 1xx response to an HTTP/1.0 client"). Returns whether it was queued.
   */
  sendInformational(status: number, fields: FieldList = []): boolean {
    if (status < 100 || status > 199 || status === 101) throw new RangeError(`informational status must be 1xx other than 101, got ${status}`);
    if (this.output !== Output.AwaitingHead || this.request?.minorVersion !== 1) return false;
    if (status === 100) {
      if (this.continueSent) return false;
      this.continueSent = true;
    }
    this.queue(latin1Bytes(this.headText(status, fields, '')));
    return true;
  }

  /**
   * Sends 100 Continue if the client waits for it (RFC 9110 §10.1.1) — call when the content is first read.
   * Returns whether one was sent.
   */
  continueIfExpected(): boolean {
    if (this.request?.expectContinue !== true || this.continueSent) return false;
    return this.sendInformational(100);
  }

  /**
   * The response head. `fields` may carry content-length (then exactly that many body bytes must follow);
   * transfer-encoding, connection, keep-alive and upgrade are the engine's to write. `end`: no body follows.
   * A 101 or a 2xx to CONNECT turns the connection into a tunnel (tunnelData events, sendTunnelData()).
   * A `connection` field listing "close" makes this response the connection's last (RFC 9112 §9.6).
   */
  sendHeaders(status: number, fields: FieldList, end: boolean, options: ResponseHeadOptions = NO_OPTIONS): void {
    this.queue(latin1Bytes(this.startResponse(status, fields, end, options)));
    this.afterHead(end);
  }

  /**
   * A whole response: head and content (exactly its declared length, when it declares one) as one message. Small
   * messages are queued as one buffer, so they leave in one write (one TLS record) without a copy on the way out.
   * Text content is encoded as UTF-8 straight into that buffer.
   */
  sendResponse(status: number, fields: FieldList, content: Uint8Array | string, options: ResponseHeadOptions = NO_OPTIONS): void {
    const head = this.startResponse(status, fields, false, options);
    const text = typeof content === 'string';
    const size = text ? this.responseRemaining : content.byteLength;
    if (this.bodyMode === 'length' && size === this.responseRemaining && size <= COALESCE_BYTES) {
      const message = messageBytes(head, content, size);
      if (message === null) {
        this.abortResponse();
        throw new FramingError(`response content does not encode to its content-length ${size}`);
      }
      this.queue(message);
      this.responseRemaining = 0;
      this.afterHead(false);
      this.endResponse();
      return;
    }
    this.queue(latin1Bytes(head));
    this.afterHead(false);
    if (this.output === Output.Body) this.sendData(text ? utf8Bytes(content) : content, true);
  }

  /** Checks the head and decides the framing (state changes included); returns the head's text. */
  private startResponse(status: number, fields: FieldList, end: boolean, options: ResponseHeadOptions): string {
    const request = this.request;
    if (this.output !== Output.AwaitingHead || request === undefined) throw new Error('no request is waiting for a response head');
    if (!Number.isInteger(status) || status < 200 || status > 999) {
      if (status !== 101) throw new RangeError(`invalid final status ${status}`);
    }
    const tunnel = status === 101 || (request.method === 'CONNECT' && status >= 200 && status < 300);
    this.headStartsTunnel = tunnel;
    let declared = -1;
    let extra = '';
    let text = statusLine(status);
    const validated = options.validated === true;
    for (let i = 0; i < fields.length; i += 2) {
      const name = fields[i]!;
      const value = fields[i + 1]!;
      if (!validated) {
        if (!isToken(name)) throw new TypeError(`invalid response field name ${JSON.stringify(name)}`);
        if (!isFieldValue(value)) throw new TypeError(`invalid characters in the value of response field ${name}`);
      }
      const lower = validated ? name : name.toLowerCase();
      if (lower === 'content-length') {
        if (!/^[0-9]{1,15}$/.test(value)) throw new TypeError(`invalid content-length ${JSON.stringify(value)}`);
        declared = Number(value);
        continue;
      }
      if (FRAMING_FIELDS.has(lower)) {
        if (lower === 'upgrade' && status === 101) extra += `upgrade: ${value}\r\n`;
        else if (lower === 'connection' && /(?:^|,)[ \t]*close[ \t]*(?:,|$)/i.test(value)) this.closeAfterResponse = true;
        continue;
      }
      text += name + ': ' + value + '\r\n';
    }
    // RFC 9110 §6.4.1: no content for HEAD, 1xx, 204 and 304 — whatever is declared describes the GET response.
    const noContent = this.isHead || status === 204 || status === 304 || tunnel;
    // Unread request content: keep the connection only when what is left is known and small (maxDiscardBytes).
    if (this.input !== Input.RequestDone && !tunnel && options.readingContent !== true) {
      const left = this.input === Input.LengthBody ? this.bodyRemaining : Infinity;
      // An unanswered 100-continue means the client may not send the content at all (§10.1.1): close.
      const unanswered = request.expectContinue && !this.continueSent;
      if (left > this.limits.maxDiscardBytes || unanswered) this.closeAfterResponse = true;
    }
    if (tunnel) {
      this.bodyMode = 'none';
      extra += status === 101 ? 'connection: upgrade\r\n' : '';
    } else if (noContent) {
      this.bodyMode = 'none';
      if (declared >= 0 && status !== 204) extra += `content-length: ${declared}\r\n`;
    } else if (declared >= 0) {
      this.bodyMode = 'length';
      this.responseRemaining = declared;
      extra += `content-length: ${declared}\r\n`;
      if (end && declared > 0) throw new FramingError(`content-length ${declared} declared for a response without content`);
    } else if (end) {
      this.bodyMode = 'length';
      this.responseRemaining = 0;
      extra += 'content-length: 0\r\n';
    } else if (request.minorVersion === 1) {
      this.bodyMode = 'chunked';
      extra += 'transfer-encoding: chunked\r\n';
    } else {
      // RFC 9112 §6.3 item 8: an HTTP/1.0 client reads to the close.
      this.bodyMode = 'close';
      this.closeAfterResponse = true;
    }
    if (!tunnel) {
      if (this.closeAfterResponse) extra += 'connection: close\r\n';
      else if (request.minorVersion === 0) extra += 'connection: keep-alive\r\n';
    }
    return text + extra + '\r\n';
  }

  /** The head is queued: the connection becomes a tunnel, or the body is open (and ended when `end`). */
  private afterHead(end: boolean): void {
    if (this.headStartsTunnel) {
      this.output = Output.Tunnel;
      this.closeAfterResponse = true;
      // Bytes after the head are the new protocol's (RFC 9110 §7.8).
      this.input = Input.Tunnel;
      return;
    }
    this.output = Output.Body;
    // HEAD, 204 and 304 stay open until the caller ends them: content it sends meanwhile is dropped.
    if (end) this.endResponse();
  }

  /** Response content. Throws FramingError past a declared content-length (nothing more is written). */
  sendData(data: Uint8Array, end = false): void {
    if (this.output !== Output.Body) throw new Error('no response body is open');
    if (data.byteLength > 0) {
      switch (this.bodyMode) {
        case 'none':
          break; // HEAD and friends: the content is not sent
        case 'length':
          if (data.byteLength > this.responseRemaining) {
            this.abortResponse();
            throw new FramingError(`response content exceeds its content-length by ${data.byteLength - this.responseRemaining} bytes`);
          }
          this.responseRemaining -= data.byteLength;
          this.queue(data);
          break;
        case 'chunked':
          this.queue(latin1Bytes(data.byteLength.toString(16) + '\r\n'));
          this.queue(data);
          this.queue(CRLF_BYTES);
          break;
        case 'close':
          this.queue(data);
          break;
      }
    }
    if (end) this.endResponse();
  }

  /** Trailer fields (chunked responses only; RFC 9112 §7.1.2) and the end of the response. */
  sendTrailers(fields: FieldList): void {
    if (this.output !== Output.Body) throw new Error('no response body is open');
    if (this.bodyMode !== 'chunked') {
      this.endResponse();
      return;
    }
    let text = '0\r\n';
    for (let i = 0; i < fields.length; i += 2) {
      const name = fields[i]!;
      const value = fields[i + 1]!;
      if (!isToken(name)) throw new TypeError(`invalid trailer field name ${JSON.stringify(name)}`);
      if (!isFieldValue(value)) throw new TypeError(`invalid characters in the value of trailer field ${name}`);
      text += `${name}: ${value}\r\n`;
    }
    this.queue(latin1Bytes(text + '\r\n'));
    this.bodyMode = 'none';
    this.endResponse();
  }

  /** Ends the response. Throws FramingError when fewer bytes than the declared content-length were sent. */
  endResponse(): void {
    if (this.output !== Output.Body) throw new Error('no response body is open');
    if (this.bodyMode === 'chunked') this.queue(LAST_CHUNK);
    if (this.bodyMode === 'length' && this.responseRemaining > 0) {
      const missing = this.responseRemaining;
      this.abortResponse();
      throw new FramingError(`response ended ${missing} bytes short of its content-length`);
    }
    this.output = Output.Ended;
    if (this.closeAfterResponse) {
      this.output = Output.Closed;
      this.input = Input.Closed;
      return;
    }
    if (this.input === Input.RequestDone) this.finishExchange();
    else this.discarding = true; // read the rest of the request content, then serve the next request
  }

  /** Ends the connection without finishing the response (the transport closes once isDone). */
  abortResponse(): void {
    this.output = Output.Closed;
    this.input = Input.Closed;
  }

  /** Tunnel output, after a 101 or a 2xx to CONNECT. */
  sendTunnelData(data: Uint8Array): void {
    if (this.output !== Output.Tunnel) throw new Error('the connection is not a tunnel');
    this.queue(data);
  }

  private finishExchange(): void {
    this.request = undefined;
    this.output = Output.Idle;
    this.input = Input.Head;
    this.discarding = false;
  }

  private headText(status: number, fields: FieldList, extra: string): string {
    let text = statusLine(status);
    for (let i = 0; i < fields.length; i += 2) text += `${fields[i]}: ${fields[i + 1]}\r\n`;
    return text + extra + '\r\n';
  }

  private queue(bytes: Uint8Array): void {
    this.out.push(bytes);
  }

  /** Everything queued as one buffer, or null. */
  dataToSend(): Uint8Array | null {
    return this.out.take();
  }

  /** Everything queued as a list (for a vectored write: large bodies are not copied), or null. */
  dataToSendv(): Uint8Array[] | null {
    return this.out.takev();
  }
}

const CRLF_BYTES = Uint8Array.of(CR, LF);
/** Status lines by code (100–999), built once each. */
const STATUS_LINES: string[] = [];
function statusLine(status: number): string {
  return (STATUS_LINES[status] ??= `HTTP/1.1 ${status} ${reasonPhrase(status)}\r\n`);
}
const NO_OPTIONS: ResponseHeadOptions = Object.freeze({});
/** Whole responses up to this size are queued as one buffer (head and content); larger content is not copied. */
const COALESCE_BYTES = 16 * 1024;
const LAST_CHUNK = latin1Bytes('0\r\n\r\n');
void EMPTY;
