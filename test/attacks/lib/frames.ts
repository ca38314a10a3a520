/**
 * Frames for the attack suite: the independent test wire kit (test/support/wire, written from RFC 9113 and sharing no
 * code with the engine), under the names the attack tests use. It writes whatever it is told to, including frames no
 * conforming client would send.
 */
export {
  ErrorCode as ErrorCodes,
  Flag,
  FrameReader,
  FrameType,
  PREFACE as CLIENT_PREFACE,
  Setting,
  continuationFrame,
  dataFrame,
  errorName,
  frame,
  goawayFrame,
  headersFrame,
  parseGoaway,
  pingFrame,
  readU32,
  rstStreamFrame,
  settingsAck,
  settingsFrame,
  windowUpdateFrame,
  type Goaway,
  type ReadFrame as Frame,
} from '../../support/wire/index.js';
