/** ARNs, ids and DNS names shaped like AWS's, drawn from the seeded random so a run is repeatable. */
import { hashString, type Random } from '../../core/random.ts';

/** The account id every twin ARN carries. */
export const TWIN_ACCOUNT_ID = '123456789012';

function hex(random: Random, digits: number): string {
  let out = '';
  while (out.length < digits) out += random.int(0, 0xffff).toString(16).padStart(4, '0');
  return out.slice(0, digits);
}

/** Makes the identifiers of one ALB twin. */
export function idFactory(random: Random, region: string) {
  const prefix = `arn:aws:elasticloadbalancing:${region}:${TWIN_ACCOUNT_ID}`;
  return {
    vpcId: () => `vpc-${hex(random, 17)}`,
    loadBalancerArn: (name: string) => `${prefix}:loadbalancer/app/${name}/${hex(random, 16)}`,
    targetGroupArn: (name: string) => `${prefix}:targetgroup/${name}/${hex(random, 16)}`,
    /** Listener ARNs extend their load balancer's path: listener/app/<name>/<lb-id>/<id>. */
    listenerArn: (loadBalancerArn: string) => {
      const lbPath = loadBalancerArn.slice(loadBalancerArn.indexOf(':loadbalancer/') + ':loadbalancer/'.length);
      return `${prefix}:listener/${lbPath}/${hex(random, 16)}`;
    },
    /** Rule ARNs extend their listener's path: listener-rule/app/<name>/<lb-id>/<listener-id>/<id>. */
    ruleArn: (listenerArn: string) => `${listenerArn.replace(':listener/', ':listener-rule/')}/${hex(random, 16)}`,
    /** The default rule's ARN, derived from the listener's so that making it draws nothing from the seeded random. */
    defaultRuleArn: (listenerArn: string) =>
      `${listenerArn.replace(':listener/', ':listener-rule/')}/${hashString(`default:${listenerArn}`).toString(16).padStart(8, '0')}${hashString(`rule:${listenerArn}`).toString(16).padStart(8, '0')}`,
  };
}
