import { z } from "zod";
import { defineEventType } from "./define";

/** Case.dev's families: vault ingestion (documents into a vault) and matters. */
const vault = { name: "vault", idField: "vaultId" };
const matter = { name: "matter", idField: "matterId" };

const vaultObject = z.object({
  vaultId: z.string().min(1),
  objectId: z.string().min(1),
  filename: z.string(),
  contentType: z.string().optional(),
  sizeBytes: z.number().int().nonnegative().optional(),
});

export const caseDevEventTypes = [
  defineEventType({
    type: "vault.ingest.completed",
    description: "A document finished ingestion into a vault and is searchable.",
    scope: "vaults",
    stability: "stable",
    resource: vault,
    schema: vaultObject.extend({ pageCount: z.number().int().nonnegative().optional() }),
    example: { vaultId: "vault_123", objectId: "obj_456", filename: "contract.pdf", pageCount: 12 },
  }),
  defineEventType({
    type: "vault.ingest.failed",
    description: "A document could not be ingested into a vault.",
    scope: "vaults",
    stability: "stable",
    resource: vault,
    schema: vaultObject.extend({ error: z.object({ code: z.string(), message: z.string() }) }),
    example: {
      vaultId: "vault_123",
      objectId: "obj_456",
      filename: "scan.tiff",
      error: { code: "unsupported_format", message: "TIFF with JBIG2 is not supported" },
    },
  }),
  defineEventType({
    type: "vault.object.deleted",
    description: "A document was removed from a vault.",
    scope: "vaults",
    stability: "stable",
    resource: vault,
    schema: z.object({ vaultId: z.string().min(1), objectId: z.string().min(1) }),
    example: { vaultId: "vault_123", objectId: "obj_456" },
  }),
  defineEventType({
    type: "matter.created",
    description: "A matter was opened.",
    scope: "matters",
    stability: "stable",
    resource: matter,
    schema: z.object({ matterId: z.string().min(1), name: z.string(), clientId: z.string().optional() }),
    example: { matterId: "matter_9", name: "Acme v. Globex", clientId: "client_3" },
  }),
  defineEventType({
    type: "matter.updated",
    description: "A matter's details changed.",
    scope: "matters",
    stability: "stable",
    resource: matter,
    schema: z.object({ matterId: z.string().min(1), changes: z.array(z.string()) }),
    example: { matterId: "matter_9", changes: ["name"] },
  }),
  defineEventType({
    type: "matter.closed",
    description: "A matter was closed.",
    scope: "matters",
    stability: "beta",
    resource: matter,
    schema: z.object({ matterId: z.string().min(1), closedAt: z.iso.datetime() }),
    example: { matterId: "matter_9", closedAt: "2026-01-31T17:00:00Z" },
  }),
];
