/**
 * Public types of the sans-IO HTTP/1.1 server engine (RFC 9112). No `node:` imports anywhere under src/h1.
 */

/** A field list as a flat array [name0, value0, name1, value1, …]; names lowercase, values without surrounding OWS. */
export type FieldList = string[];

export interface H1Limits {
  /**
   * Bytes of a request head (request-line + fields + CRLF) before it is refused with 431 (RFC 6585 §5). Bounds the
   * memory a slowloris or header-flood client can make us hold per connection. 64 KiB is what node:http allows
   * by default (maxHeaderSize 16 KiB since Node 14, configurable) and in the range of nginx's 4 × 8 KiB buffers.
   */
  maxHeadBytes: number;
  /**
   * Bytes of the request-target, field names and values together (what node:http's maxHeaderSize counts: the head
   * without its separators and line ends) before 431. maxHeadBytes bounds the raw head (and the buffering); this one
   * lets a server keep node:http's accounting. Infinity: only maxHeadBytes applies.
   */
  maxHeadContentBytes: number;
  /** Bytes of the request-target before 414 (RFC 9112 §3: "at least 8000 octets" should be supported). */
  maxTargetBytes: number;
  /** Field lines in one head (or trailer section) before 431: a flood of tiny fields costs a parse each. */
  maxFields: number;
  /**
   * Bytes of chunk extensions in one chunk-size line before 400: extensions are ignored, so they are pure cost
   * (the llhttp / Node CVE-2024-22019 family: request bodies made of endless chunk extensions).
   */
  maxChunkExtensionBytes: number;
  /**
   * Bytes of pipelined input held while a response is pending. Above it the engine stops asking for input
   * (wantsInput false): a client cannot make us buffer unbounded pipelined requests.
   */
  maxPipelineBytes: number;
  /**
   * Request body bytes still unread when the response ends that the engine reads and discards to keep the
   * connection (node:http discards too). A larger or unknown remainder makes the response carry `connection:
   * close` instead, so a client uploading gigabytes to a 404 handler cannot keep us reading.
   */
  maxDiscardBytes: number;
  /** Empty lines tolerated before a request-line (RFC 9112 §2.2: "SHOULD ignore at least one empty line"). */
  maxLeadingEmptyLines: number;
}

export interface H1Options {
  limits?: Partial<H1Limits>;
  /**
   * The request methods accepted; any other token is refused with 400 before the head is read further. Undefined:
   * any token (RFC 9110 §9.1: a server answers a method it does not know with 501, which the application can do).
   * A closed list matches intermediaries that refuse unknown methods (llhttp), so both read a request alike.
   */
  methods?: ReadonlySet<string>;
  /**
   * Refuse (400) a Content-Length that is a list or repeated, even of identical values. RFC 9112 §6.3 item 5 lets a
   * recipient accept identical values as one; refusing them is what intermediaries such as llhttp do.
   */
  singleContentLength?: boolean;
  /**
   * Refuse (400) HTTP/1.x minor versions above 1 instead of answering them as 1.1 (RFC 9112 §2.3 SHOULD), as llhttp
   * does: a request line one side reads as 1.1 and another refuses is a way to split them.
   */
  knownVersionsOnly?: boolean;
}

/** How a response head is written (see H1Connection.sendHeaders). */
export interface ResponseHeadOptions {
  /** Field names are lowercase tokens and values valid field values already (checked by the caller). */
  validated?: boolean;
  /**
   * The application is reading the request content (for instance streaming it into this response): whether the
   * connection persists is decided when the response ends instead (then at most maxDiscardBytes more are read).
   */
  readingContent?: boolean;
}

export type BodyKind = 'none' | 'length' | 'chunked';

export interface RequestHead {
  method: string;
  /** The request-target as sent (origin-form "/a?b", absolute-form, authority-form for CONNECT, or "*"). */
  target: string;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1 (RFC 9112 §2.3: higher 1.x minors are answered as 1.1). */
  minorVersion: 0 | 1;
  fields: FieldList;
  /** The Host field value, or for absolute-form the target's authority (RFC 9112 §3.2.2: it wins). */
  authority: string | undefined;
  bodyKind: BodyKind;
  /** Declared Content-Length, -1 for chunked or none. */
  contentLength: number;
  /** `Expect: 100-continue` (RFC 9110 §10.1.1). */
  expectContinue: boolean;
  /** The Upgrade field when Connection lists "upgrade" (RFC 9110 §7.8), lowercased; undefined otherwise. */
  upgrade: string | undefined;
  /** What the client asked for (RFC 9112 §9.3): the response may still close. */
  keepAlive: boolean;
}

export type H1Event =
  | ({ type: 'request' } & RequestHead)
  /** Request content; a view into the bytes given to receive(): copy it or use it before the next call. */
  | { type: 'data'; data: Uint8Array }
  | { type: 'trailers'; fields: FieldList }
  | { type: 'requestEnded' }
  /** After a 101 or a 2xx to CONNECT, every byte is the tunnel's (a view, as for data). */
  | { type: 'tunnelData'; data: Uint8Array }
  /** The client half-closed. */
  | { type: 'inputEnded' }
  /**
   * The input broke RFC 9112: the error response (`status`, unless a response was already started) is queued and
   * the connection ends after it. Nothing more is parsed.
   */
  | { type: 'protocolError'; status: number; reason: string };
