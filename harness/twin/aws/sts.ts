/**
 * The STS Query API subset (Version 2011-06-15): GetCallerIdentity, as AWS answers it — the twin
 * takes any credentials, so the caller is an IAM user of the twin's account named after its access
 * key id (from the SigV4 `Credential=`), which says which credentials reached it.
 */
import { TWIN_ACCOUNT_ID } from '../alb/ids.ts';
import { text, type QueryParams, type QueryResponse } from './query.ts';

/** The STS API version the twin serves. */
export const STS_VERSION = '2011-06-15';
const NS = `https://sts.amazonaws.com/doc/${STS_VERSION}/`;

/** An STS error response (`<ErrorResponse><Error>…`). */
export function stsError(code: string, message: string, requestId: string, status = 400): QueryResponse {
  return { status, body: `<ErrorResponse xmlns="${NS}"><Error><Type>Sender</Type>${text('Code', code)}${text('Message', message)}</Error>${text('RequestId', requestId)}</ErrorResponse>` };
}

/** The access key id a request is signed with (`Credential=<key>/…`), if signed. */
export function accessKeyOf(authorization: string | undefined): string | undefined {
  return /Credential=([^/,\s]+)\//.exec(authorization ?? '')?.[1];
}

/** Answers one STS Query API request; `accessKeyId` from the request's signature. */
export function handleSts(params: QueryParams, requestId: string, accessKeyId: string | undefined): QueryResponse {
  const action = params.get('Action') ?? '';
  if (action !== 'GetCallerIdentity') return stsError('InvalidAction', `The twin's STS serves GetCallerIdentity only, got '${action}'`, requestId);
  // An unsigned request (curl) has no credentials: AWS refuses it so.
  if (!accessKeyId) return stsError('MissingAuthenticationToken', 'Request is missing Authentication Token', requestId, 403);
  const user = accessKeyId.replace(/[^\w+=,.@-]/g, '-');
  const result = `${text('Arn', `arn:aws:iam::${TWIN_ACCOUNT_ID}:user/${user}`)}${text('UserId', accessKeyId)}${text('Account', TWIN_ACCOUNT_ID)}`;
  return {
    status: 200,
    body: `<GetCallerIdentityResponse xmlns="${NS}"><GetCallerIdentityResult>${result}</GetCallerIdentityResult><ResponseMetadata>${text('RequestId', requestId)}</ResponseMetadata></GetCallerIdentityResponse>`,
  };
}
