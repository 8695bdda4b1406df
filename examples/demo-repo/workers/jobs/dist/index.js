// Built bundle of demo-jobs.
export default {
  async fetch(request, env) {
    const key = new URL(request.url).pathname.slice(1) || "upload";
    await env.UPLOADS.put(key, request.body);
    await env.JOBS.send({ key });
    return new Response("queued " + key, { status: 202 });
  },
  async scheduled(_controller, env) {
    await env.JOBS.send({ sweep: true });
  },
};
