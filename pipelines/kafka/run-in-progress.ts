import type { Pipeline, PipelineNode } from "../runtime/graph.ts"
import { groupOf, type KafkaContext } from "./nodes.ts"

/**
 * One run at a time per cluster, for a pipeline with runs (the corpus): its stages hold one run's
 * state, and its sinks, which only run in the run job's process, share one consumer group per sink —
 * a second run job's sink would join the first's group, and whichever member owns the partition
 * passes over the other run's records. So a run job first looks at its sinks' groups: members there
 * are another run job, alive (a killed one's members leave when their session expires, seconds
 * later). Says why it must wait, or undefined when the cluster is free. Two jobs started within the
 * same instant can both pass; the run jobs' shared transactional id then fences the older one
 * (produceRun).
 */
export const runInProgress = async (ctx: KafkaContext, pipeline: Pipeline, consumers: ReadonlyArray<PipelineNode>): Promise<string | undefined> => {
  for (const sink of consumers.filter((n) => n._tag === "Sink")) {
    const group = groupOf(pipeline, sink)
    const members = await ctx.transport.groupMembers(group)
    if (members.length > 0) {
      const who = members.map((m) => `${m.clientId} on ${m.host.replace(/^\//, "")}`).join(", ")
      return `another ${pipeline.name} run is in progress on this cluster: its run job holds the sink group ${group} (${who}). One ${pipeline.name} run at a time — the stages hold one run's state; wait for it to end (or stop it: a killed run job's members leave within the session timeout) and run again.`
    }
  }
  return undefined
}
