/** The ALB twin's API errors, named by the ELBv2 error codes the Query API answers with. */

/** ELBv2 error codes the twin can raise. */
export type AlbErrorCode =
  | 'LoadBalancerNotFound'
  | 'TargetGroupNotFound'
  | 'ListenerNotFound'
  | 'RuleNotFound'
  | 'PriorityInUse'
  | 'CertificateNotFound'
  | 'DuplicateLoadBalancerName'
  | 'DuplicateTargetGroupName'
  | 'DuplicateListener'
  | 'InvalidTarget'
  | 'InvalidConfigurationRequest'
  | 'ValidationError';

/**
 * A request the control plane refuses (unknown ARN, bad attribute). Thrown because callers
 * in-process pass ARNs they created; the Query API turns it into an ELBv2 error response.
 */
export class AlbError extends Error {
  override readonly name = 'AlbError';
  constructor(
    readonly code: AlbErrorCode,
    message: string,
  ) {
    super(message);
  }
}
