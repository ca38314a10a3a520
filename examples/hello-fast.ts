// hello with httpsd's FastResponse: the same answer as examples/hello.ts, without undici's Response cost.
//   npx httpsd examples/hello-fast.ts
import { FastResponse } from 'httpsd';

const headers = { 'content-type': 'text/plain' };

export default {
  fetch(): Response {
    return new FastResponse('hello', { headers });
  },
};
