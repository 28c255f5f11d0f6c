/**
 * Blocks over HTTP (docs/http-api.md, "Blocks"): by id (digits) or by name.
 * Fast commands, answered when the controller has answered; a controller's
 * refusal keeps its code (`detail.controllerCode`) and decides the status
 * (BLOCK_NOT_FOUND 404, INVALID_BLOCK_TYPE 400, INSUFFICIENT_STORAGE 507, ...).
 *
 *   GET    /api/blocks            every block, with its name
 *   POST   /api/blocks            {"id"?, "name"?, "type", "data"}: 201 with the block and a Location
 *   DELETE /api/blocks            every user block (system blocks stay)
 *   GET    /api/blocks/{ref}      one block
 *   PUT    /api/blocks/{ref}      {"type"?, "data", "name"?}: its whole data (and a rename)
 *   PATCH  /api/blocks/{ref}      {"data"?, "name"?}: data merged into what it holds (RFC 7386), a rename
 *   DELETE /api/blocks/{ref}      one block (not a system block: 403)
 */
import { z } from 'zod';
import type { JsonObject } from '../protocol/index.js';
import { readJson } from './body.js';
import type { Route } from './routes.js';

const data = z.record(z.string(), z.json()).transform((value) => value as JsonObject);
const name = z.string().min(1).max(128);
const id = z.int().min(1).max(65_535);

const CreateBody = z.strictObject({
  id: id.optional(),
  name: name.optional(),
  type: z.string().min(1).max(128),
  data,
});
const WriteBody = z.strictObject({
  type: z.string().min(1).max(128).optional(),
  data,
  name: name.optional(),
});
const PatchBody = z.strictObject({ data: data.optional(), name: name.optional() });

export const BLOCK_ROUTES: readonly Route[] = [
  {
    method: 'GET',
    path: '/api/blocks',
    mutating: false,
    controllerStatuses: true,
    async handle({ service }) {
      return { status: 200, body: { blocks: await service.tasks.blocks.list() } };
    },
  },
  {
    method: 'POST',
    path: '/api/blocks',
    mutating: true,
    controllerStatuses: true,
    async handle({ service, request }) {
      const body = await readJson(request, CreateBody);
      const block = await service.tasks.blocks.create({
        type: body.type,
        data: body.data,
        ...(body.id === undefined ? {} : { id: body.id }),
        ...(body.name === undefined ? {} : { name: body.name }),
      });
      return { status: 201, headers: { location: `/api/blocks/${block.id}` }, body: { block } };
    },
  },
  {
    method: 'DELETE',
    path: '/api/blocks',
    mutating: true,
    controllerStatuses: true,
    async handle({ service }) {
      return { status: 200, body: await service.tasks.blocks.deleteAll() };
    },
  },
  {
    method: 'GET',
    path: '/api/blocks/{ref}',
    mutating: false,
    controllerStatuses: true,
    async handle({ service, params }) {
      return { status: 200, body: { block: await service.tasks.blocks.read(params['ref'] ?? '') } };
    },
  },
  {
    method: 'PUT',
    path: '/api/blocks/{ref}',
    mutating: true,
    controllerStatuses: true,
    async handle({ service, request, params }) {
      const body = await readJson(request, WriteBody);
      const block = await service.tasks.blocks.write(params['ref'] ?? '', {
        data: body.data,
        ...(body.type === undefined ? {} : { type: body.type }),
        ...(body.name === undefined ? {} : { name: body.name }),
      });
      return { status: 200, body: { block } };
    },
  },
  {
    method: 'PATCH',
    path: '/api/blocks/{ref}',
    mutating: true,
    controllerStatuses: true,
    async handle({ service, request, params }) {
      const body = await readJson(request, PatchBody);
      const block = await service.tasks.blocks.patch(params['ref'] ?? '', {
        ...(body.data === undefined ? {} : { data: body.data }),
        ...(body.name === undefined ? {} : { name: body.name }),
      });
      return { status: 200, body: { block } };
    },
  },
  {
    method: 'DELETE',
    path: '/api/blocks/{ref}',
    mutating: true,
    controllerStatuses: true,
    async handle({ service, params }) {
      return { status: 200, body: { deleted: await service.tasks.blocks.delete(params['ref'] ?? '') } };
    },
  },
];
