// Built bundle of demo-api (flaresync deploys built output; no build step runs).
export class Counter {
  constructor(state) {
    this.state = state;
  }
  async fetch() {
    const hits = ((await this.state.storage.get("hits")) ?? 0) + 1;
    await this.state.storage.put("hits", hits);
    return new Response(String(hits));
  }
}

export default {
  async fetch(request, env) {
    const user = await env.AUTH.fetch(request);
    const id = env.COUNTER.idFromName("global");
    const hits = await (await env.COUNTER.get(id).fetch(request)).text();
    return new Response(`${env.GREETING}, ${await user.text()} (#${hits})`);
  },
};
