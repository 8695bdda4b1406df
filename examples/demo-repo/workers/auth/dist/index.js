// Built bundle of demo-auth.
export default {
  async fetch(request, env) {
    const session = request.headers.get("cookie") ?? "";
    const user = (await env.SESSIONS.get(session)) ?? "guest";
    return new Response(user, { headers: { "x-ttl": String(env.TOKEN_TTL_SECONDS) } });
  },
};
