// An application's use of the TypeScript client that openapi-typescript-codegen generated from
// docs/openapi.json (in ./client): check.sh compiles it with the client under strict TypeScript,
// then smoke.cjs runs it against a stand-in server. Only the client's own types are used, so a
// document change that breaks them (a renamed operation, a field's type) fails the compilation.
import { ApiError, CodeInterpreterClient } from './client';
import type { ExecuteRequest, ExecuteResponse, HealthResponse } from './client';

export const USER = '0b7c2f4e-8a1d-4c1e-9f3a-2d5e6b7c8d9e';

// The client's services, for smoke.cjs to find a method for each operationId of the document.
export function services(base: string): Record<string, object> {
    const client = new CodeInterpreterClient({ BASE: base });
    return { admin: client.admin, files: client.files, meta: client.meta, session: client.session };
}

// Runs code, reads the answer, releases the session twice (the second is a 404 not_found) and asks
// /health; returns what it saw, one line each.
export async function session(base: string, token: string): Promise<string[]> {
    const client = new CodeInterpreterClient({ BASE: base, HEADERS: { 'X-Auth-Token': token } });
    const seen: string[] = [];

    const request: ExecuteRequest = { user_uuid: USER, code: 'print(a * 2)' };
    const answer: ExecuteResponse = await client.session.execute(request);
    seen.push(`stdout ${JSON.stringify(answer.stdout)} new_session ${answer.new_session}`);
    // ExecutionError is `nullable` in the document; this generator leaves the null out of the type.
    const error = answer.error as ExecuteResponse['error'] | null;
    seen.push(`error ${error === null ? 'none' : error.ename}`);
    for (const output of answer.outputs) seen.push(`output ${output.type}`);

    await client.session.release(USER);
    try {
        await client.session.release(undefined, { user_uuid: USER });
        seen.push('second release answered 2xx');
    } catch (e) {
        if (!(e instanceof ApiError)) throw e;
        seen.push(`second release ${e.status} ${(e.body as { reason: string }).reason}`);
    }

    const health: HealthResponse = await client.meta.health();
    seen.push(`health ${health.status}`);
    return seen;
}
