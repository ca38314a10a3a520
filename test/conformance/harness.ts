/**
 * Conformance harness: what the conformance tests import, in one place. The client that drives the engine is in
 * client.ts; frames, HPACK and the RFC tables come from the independent test wire kit (test/support/wire), written
 * from RFC 9113 §4/§6 and RFC 7541 so that a bug shared by the engine's codec and its tests cannot hide.
 */
export {
  type Bytes,
  ErrorCode as E,
  Flag as FLAG,
  FrameType as T,
  PREFACE,
  ResponseHpackDecoder,
  Setting as S,
  bytes,
  concat,
  encodeFields,
  errorName,
  frame,
  hp,
  hpackInt,
  hpackRepresentations,
  hpackString,
  huffmanDecode,
  huffmanEncode,
  latin1,
  padded,
  priorityFields,
  settingsPayload,
  u16,
  u32,
  type HpackRepresentation,
} from '../support/wire/index.js';
export * from './client.js';
