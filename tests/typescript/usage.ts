// Frontend code against the generated types: it must compile, and each
// `@ts-expect-error` line must stay an error, so loose types fail the check.

import type { components, operations } from "../../generated/typescript/api";

type Terminate = operations["mark_terminate"];
type TerminateBody = NonNullable<Terminate["requestBody"]>["content"]["application/json"];
type AffectedRows = Terminate["responses"][200]["content"]["application/json"];
type ApiError = components["schemas"]["Error"];

export const allNodes: TerminateBody = { nodes_id: null };
export const oneNode: TerminateBody = { nodes_id: "node-2" };
export const absentNode: TerminateBody = {};
export const flagged: AffectedRows = 3;

export const notFound: ApiError = {
  error: {
    message: 'not_found: Object "nodes(node-9)" was not found!',
    data: {
      code: "not_found",
      message: 'Object "nodes(node-9)" was not found!',
      object_name: "nodes",
      object_id: "node-9",
    },
  },
};

export const path: Terminate["parameters"]["path"] = { system_services_id: "cron" };

// @ts-expect-error nodes_id is a string or null, never a number.
export const numericNode: TerminateBody = { nodes_id: 5 };

// @ts-expect-error the body allows no other field.
export const unknownField: TerminateBody = { node_id: "node-1" };

// @ts-expect-error an error body needs a message.
export const noMessage: ApiError = { error: {} };

// @ts-expect-error the count is a number.
export const textCount: AffectedRows = "3";
