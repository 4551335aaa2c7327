import { z } from "zod";
import { defineEventType } from "./define";

/** Marble's families: decisions of the rule engine and the cases investigators work on. */
const decision = { name: "decision", idField: "decisionId" };
const caseResource = { name: "case", idField: "caseId" };

const caseEvent = z.object({ caseId: z.string().min(1), inboxId: z.string().optional() });

export const marbleEventTypes = [
  defineEventType({
    type: "decision.created",
    description: "The rule engine took a decision on a transaction or another object.",
    scope: "decisions",
    stability: "stable",
    resource: decision,
    schema: z.object({
      decisionId: z.string().min(1),
      scenarioId: z.string().min(1),
      outcome: z.enum(["approve", "review", "block_and_review", "decline"]),
      score: z.number(),
    }),
    example: { decisionId: "dec_1", scenarioId: "scn_7", outcome: "review", score: 42 },
  }),
  defineEventType({
    type: "case.created",
    description: "A case was opened for investigation.",
    scope: "cases",
    stability: "stable",
    resource: caseResource,
    schema: caseEvent.extend({ name: z.string() }),
    example: { caseId: "case_5", inboxId: "inbox_1", name: "Suspicious transfers" },
  }),
  defineEventType({
    type: "case.updated",
    description: "A case's status, assignee or name changed.",
    scope: "cases",
    stability: "stable",
    resource: caseResource,
    schema: caseEvent.extend({
      status: z.enum(["open", "investigating", "discarded", "resolved"]).optional(),
    }),
    example: { caseId: "case_5", status: "investigating" },
  }),
  defineEventType({
    type: "case.decisions_updated",
    description: "Decisions were added to or removed from a case.",
    scope: "cases",
    stability: "stable",
    resource: caseResource,
    schema: caseEvent.extend({ decisionIds: z.array(z.string()) }),
    example: { caseId: "case_5", decisionIds: ["dec_1"] },
  }),
  defineEventType({
    type: "case.file_added",
    description: "A file was attached to a case.",
    scope: "cases",
    stability: "beta",
    resource: caseResource,
    schema: caseEvent.extend({ fileId: z.string().min(1), filename: z.string() }),
    example: { caseId: "case_5", fileId: "file_2", filename: "kyc.pdf" },
  }),
];
