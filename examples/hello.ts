// The smallest httpsd app: `npx httpsd examples/hello.ts` → https://localhost:8443/ answers "hello".
// Same bytes as the classic hello world: 200, content-type text/plain, content-length 5, body "hello".
export default {
  fetch(): Response {
    return new Response('hello', { headers: { 'content-type': 'text/plain' } });
  },
};
