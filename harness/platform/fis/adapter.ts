/** FisPort over the AWS SDK v3 (default credential chain; endpoint override when configured). */
import {
  CreateExperimentTemplateCommand,
  DeleteExperimentTemplateCommand,
  FisClient,
  GetExperimentCommand,
  ListExperimentTemplatesCommand,
  StartExperimentCommand,
} from '@aws-sdk/client-fis';
import { awsErrorText, withApiErrors } from '../api-errors.ts';
import type { AwsClientOptions } from '../elbv2/adapter.ts';
import type { FisPort } from '../ports.ts';

/** The action and target type of a spot interruption (FIS actions reference). */
const ACTION = 'aws:ec2:send-spot-instance-interruptions';
const TARGET_TYPE = 'aws:ec2:spot-instance';

/** Builds the FIS adapter. */
export function createFisAdapter(options: AwsClientOptions): FisPort {
  const client = new FisClient({ region: options.region, endpoint: options.endpoint, credentials: options.credentials, maxAttempts: 5 });
  const state = (e: { id?: string; state?: { status?: string; reason?: string } } | undefined, id: string) => ({
    id: e?.id ?? id,
    status: e?.state?.status ?? 'unknown',
    ...(e?.state?.reason ? { reason: e.state.reason } : {}),
  });
  const port: FisPort = {
    async createSpotInterruptionTemplate(t) {
      const out = await client.send(
        new CreateExperimentTemplateCommand({
          clientToken: t.clientToken,
          description: t.description,
          roleArn: t.roleArn,
          stopConditions: [{ source: 'none' }],
          targets: { SpotInstance: { resourceType: TARGET_TYPE, resourceArns: [t.instanceArn], selectionMode: 'ALL' } },
          actions: { interrupt: { actionId: ACTION, parameters: { durationBeforeInterruption: t.durationBeforeInterruption }, targets: { SpotInstances: 'SpotInstance' } } },
          tags: t.tags,
        }),
      );
      const id = out.experimentTemplate?.id;
      if (!id) throw new Error('CreateExperimentTemplate answered without experimentTemplate.id');
      return id;
    },
    async startExperiment(templateId, clientToken, tags) {
      const out = await client.send(new StartExperimentCommand({ experimentTemplateId: templateId, clientToken, tags }));
      return state(out.experiment, '');
    },
    async getExperiment(experimentId) {
      const out = await client.send(new GetExperimentCommand({ id: experimentId }));
      return state(out.experiment, experimentId);
    },
    async deleteTemplate(templateId) {
      try {
        await client.send(new DeleteExperimentTemplateCommand({ id: templateId }));
        return true;
      } catch (error) {
        if ((error as Error).name === 'ResourceNotFoundException') return false;
        throw error;
      }
    },
    async listTemplatesByTag(key, value) {
      const ids: string[] = [];
      let nextToken: string | undefined;
      // Bounded: FIS allows a few hundred templates per account; 100 pages of 100 is far beyond.
      for (let page = 0; page < 100; page++) {
        const out = await client.send(new ListExperimentTemplatesCommand({ maxResults: 100, nextToken }));
        for (const t of out.experimentTemplates ?? []) if (t.id && t.tags?.[key] === value) ids.push(t.id);
        nextToken = out.nextToken;
        if (!nextToken) break;
      }
      return ids;
    },
  };
  return withApiErrors('FIS', options.endpoint, port, awsErrorText);
}
