/** The HTTP/2 transport moved to transports/h2.ts; its instrumentation names stay importable from here. */
export { INPUT_BYTES_PER_TURN, inputTurnChannel, type InputTurnMessage } from './transports/h2.js';
