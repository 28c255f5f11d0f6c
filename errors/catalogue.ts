/**
 * Every error code tether raises, in one place (as undici keeps its errors):
 * the code, the area that raises it, and what it means to the person who
 * reads it. `TetherError` takes only these codes, so a new failure is added
 * here first; the classes themselves live with the area that raises them.
 * The HTTP edge maps codes to statuses (http/errors.ts); this list is about
 * meaning, not transport.
 */
export const ERROR_CATALOGUE = {
  // runtime: calls, actors, workers
  TETHER_ACTOR_DOWN: { area: 'runtime', meaning: 'the callee died, restarted or is stopped for good' },
  TETHER_CALL_TIMEOUT: { area: 'runtime', meaning: "a call's deadline passed without an answer" },
  TETHER_STASH_FULL: { area: 'runtime', meaning: 'too many calls wait for a restarting actor' },
  TETHER_UNKNOWN_METHOD: { area: 'runtime', meaning: 'the actor has no handler by that name' },
  TETHER_ACTOR_INIT: { area: 'runtime', meaning: "an actor's init threw or overran its start timeout" },
  TETHER_RUNTIME_CLOSED: { area: 'runtime', meaning: 'the actor system is shut down' },
  TETHER_ALREADY_STARTED: { area: 'runtime', meaning: 'a name is already served or run (names its holder)' },
  TETHER_ACTOR_IGNORED: { area: 'runtime', meaning: "an actor's init returned 'ignore': nothing started" },
  TETHER_NOT_AN_ACTOR: {
    area: 'runtime',
    meaning: 'a module is not an actor (no defineActor default export)',
  },
  TETHER_INJECTED_FAULT: { area: 'runtime', meaning: 'a crash injected on purpose (tests, drills)' },
  TETHER_REPLY_NOT_CLONEABLE: { area: 'runtime', meaning: "a handler's result cannot cross threads" },
  TETHER_MESSAGE_UNREADABLE: {
    area: 'runtime',
    meaning: "a call's message could not be read on the receiving thread (messageerror)",
  },
  // runtime: pools (piscina, for stateless CPU-bound tasks)
  TETHER_POOL_STOPPED: {
    area: 'runtime',
    meaning: 'the pool was stopped or restarted with the task queued or running, or is not running',
  },
  TETHER_POOL_TASK_ABORTED: {
    area: 'runtime',
    meaning: "a pool task's AbortSignal fired before it finished",
  },
  TETHER_POOL_QUEUE_FULL: { area: 'runtime', meaning: "the pool's queue is full: the task was not queued" },
  TETHER_POOL_TASK_CRASHED: {
    area: 'runtime',
    meaning:
      'the thread running a pool task died (exit, out of memory): that task failed, the thread is replaced',
  },
  TETHER_NOT_A_POOL_TASK: {
    area: 'runtime',
    meaning: "a pool's module does not export definePoolTask(fn) as its default",
  },
  // supervisors
  TETHER_INVALID_CHILD_SPEC: { area: 'supervisors', meaning: 'a child spec field is invalid' },
  TETHER_INVALID_SUPERVISOR_FLAGS: { area: 'supervisors', meaning: 'a supervisor flag is invalid' },
  TETHER_ALREADY_PRESENT: { area: 'supervisors', meaning: 'the child has a spec but is not running' },
  TETHER_CHILD_RUNNING: { area: 'supervisors', meaning: 'the child is running' },
  TETHER_CHILD_RESTARTING: { area: 'supervisors', meaning: 'the child is restarting' },
  TETHER_CHILD_NOT_FOUND: { area: 'supervisors', meaning: 'no child by that id' },
  TETHER_FAILED_TO_START_CHILD: { area: 'supervisors', meaning: 'a child failed to start' },
  TETHER_SIMPLE_ONE_FOR_ONE: {
    area: 'supervisors',
    meaning: 'a call a simple_one_for_one supervisor refuses (restartChild, deleteChild)',
  },
  TETHER_SUPERVISOR_STOPPED: { area: 'supervisors', meaning: 'the supervisor is stopped' },
  // system: state files that survive an exit (rediscovery.json, the block datastore)
  TETHER_STATE_FILE_CORRUPT: { area: 'system', meaning: 'a state file holds no valid state (set aside)' },
  TETHER_STATE_FILE_TOO_LARGE: {
    area: 'system',
    meaning: 'a state file is larger than any valid one (set aside unread)',
  },
  TETHER_STATE_FILE_NOT_REGULAR: {
    area: 'system',
    meaning: 'a FIFO, socket, device or symbolic link where a state file belongs (set aside unopened)',
  },
  TETHER_STATE_FILE_IS_DIRECTORY: {
    area: 'system',
    meaning: 'a directory where a state file belongs (left alone; the state is not kept)',
  },
  TETHER_STATE_FILE_UNREADABLE: {
    area: 'system',
    meaning: 'the operating system refused to read a state file',
  },
  TETHER_STATE_FILE_WRITE_FAILED: {
    area: 'system',
    meaning: 'the operating system refused to write a state file',
  },
  TETHER_STATE_FILE_TIMEOUT: { area: 'system', meaning: 'a state file step did not finish within its bound' },
  TETHER_STATE_DIR_UNUSABLE: {
    area: 'system',
    meaning: 'the state directory is not a directory or cannot be created (the state is not kept)',
  },
  // configuration
  TETHER_CONFIG_INVALID: {
    area: 'config',
    meaning: 'the configuration is invalid (file, line, column, key)',
  },
  TETHER_CONFIG_NOT_FOUND: { area: 'config', meaning: 'the configuration file does not exist' },
  // protocol (codec)
  TETHER_ENCODE_FAILED: { area: 'protocol', meaning: 'a frame cannot be encoded under the protocol' },
  TETHER_BAD_PAYLOAD: { area: 'protocol', meaning: "a payload does not have its opcode's shape" },
  // phases and the service's contracts
  TETHER_ILLEGAL_TRANSITION: { area: 'contracts', meaning: 'a phase transition the table refuses' },
  TETHER_NOT_READY: { area: 'contracts', meaning: 'the link is not Synchronized' },
  TETHER_COMMAND_TIMEOUT: { area: 'contracts', meaning: 'the controller did not answer in time' },
  TETHER_CONTROLLER_ERROR: { area: 'contracts', meaning: 'the controller answered with an error code' },
  TETHER_LINK_LOST: { area: 'contracts', meaning: 'the link dropped with the command in flight' },
  TETHER_BAD_RESPONSE: {
    area: 'contracts',
    meaning: "the controller's answer is malformed or cannot be delivered",
  },
  // the service's life cycle (contracts/lifecycle.ts) and remote operator requests (contracts/bus.ts)
  TETHER_LIFECYCLE_ILLEGAL: {
    area: 'contracts',
    meaning: 'a life-cycle trigger the transition table refuses in the current state',
  },
  TETHER_LIFECYCLE_FAILED: {
    area: 'contracts',
    meaning: "a life-cycle transition's implementation failed; the service is now failed",
  },
  TETHER_LIFECYCLE_BUSY: { area: 'contracts', meaning: 'too many life-cycle transitions are queued' },
  TETHER_INVALID_REQUEST: {
    area: 'contracts',
    meaning: "a remote request is too large, not JSON, or not the action's shape",
  },
  TETHER_UNKNOWN_ACTION: { area: 'contracts', meaning: 'no operator action by that name' },
  // connection actor: transports and discovery
  TETHER_LINK_CLOSED: { area: 'connection', meaning: 'the link is closed' },
  TETHER_CONNECT_TIMEOUT: { area: 'connection', meaning: 'the link did not open in time' },
  TETHER_LINK_OPEN_FAILED: { area: 'connection', meaning: 'the link could not be opened' },
  TETHER_LINK_WRITE_FAILED: { area: 'connection', meaning: 'the operating system refused a write' },
  TETHER_PORT_LIST_UNAVAILABLE: { area: 'connection', meaning: 'serial ports cannot be listed here' },
  // commander actor
  TETHER_COMMANDER_BUSY: { area: 'commander', meaning: 'too many commands are queued' },
  TETHER_COMMANDER_RECOVERY_RESTART: {
    area: 'commander',
    meaning: 'the commander restarts itself to recover',
  },
  // synchronization actor
  TETHER_HANDSHAKE_TIMEOUT: { area: 'synchronization', meaning: 'no handshake arrived in time' },
  TETHER_SYNC_STEP_FAILED: { area: 'synchronization', meaning: 'a synchronization step failed' },
  TETHER_LISTENING_MODE: { area: 'synchronization', meaning: 'the controller is in Wi-Fi listening mode' },
  TETHER_DATASTORE: { area: 'synchronization', meaning: 'the block datastore cannot be used' },
  // MQTT actor: the broker link
  TETHER_MQTT_UNAUTHORIZED: {
    area: 'mqtt',
    meaning: 'a remote trigger without the token (user property) the HTTP API requires',
  },
  TETHER_MQTT_BUSY: { area: 'mqtt', meaning: 'too many remote triggers are being answered' },
  TETHER_MQTT_SETTINGS: { area: 'mqtt', meaning: 'the MQTT settings cannot be used (CA file, URL)' },
  // service assembly
  TETHER_NO_SIMULATOR: { area: 'kernel', meaning: 'discovery mode sim without a simulator to start' },
  // tasks
  TETHER_TASK_ABORTED: { area: 'tasks', meaning: 'a task stopped early because it was aborted' },
  TETHER_UNKNOWN_TASK_KIND: { area: 'tasks', meaning: 'no task kind by that name' },
  TETHER_INVALID_TASK_ARGS: { area: 'tasks', meaning: "a task's arguments are not what its kind takes" },
  TETHER_TRACKER_CLOSED: { area: 'tasks', meaning: 'the task tracker is closed (the service is stopping)' },
  TETHER_TASK_QUEUE_FULL: { area: 'tasks', meaning: 'too many tasks are queued; the task was rejected' },
  TETHER_TASK_EXCLUSIVE_BUSY: { area: 'tasks', meaning: 'another exclusive task holds the controller' },
  TETHER_TASK_TIMEOUT: { area: 'tasks', meaning: 'a task ran past its time limit' },
  TETHER_SERVICE_RESTARTED: { area: 'tasks', meaning: 'the service restarted while the task was unfinished' },
  TETHER_TASK_NOT_FOUND: { area: 'tasks', meaning: 'no task by that id (never submitted, or forgotten)' },
  TETHER_AUTOCONNECT_OFF: {
    area: 'tasks',
    meaning: 'the task needs autoconnecting on (it waits for the link to come back)',
  },
  TETHER_TASK_STATE_TIMEOUT: {
    area: 'tasks',
    meaning: 'a waiting state of a task timed out more often than its retry count allows',
  },
  TETHER_UNEXPECTED_RESET: {
    area: 'tasks',
    meaning: 'the controller came back with another reset reason than the one the task caused',
  },
  TETHER_FIRMWARE_MISMATCH: {
    area: 'tasks',
    meaning: 'after a firmware update the controller reports another firmware than expected',
  },
  TETHER_BACKUP_INVALID: { area: 'tasks', meaning: 'a backup file is not a valid backup' },
  TETHER_BACKUP_INCOMPATIBLE: {
    area: 'tasks',
    meaning: "a backup's protocol version is not one this build supports",
  },
  TETHER_BACKUP_WRONG_DEVICE: {
    area: 'tasks',
    meaning: 'a backup of another controller (load it with force to override)',
  },
  TETHER_BACKUP_NOT_FOUND: { area: 'tasks', meaning: 'no backup file by that name' },
  TETHER_BACKUP_NAME_INVALID: {
    area: 'tasks',
    meaning: 'a backup name that is not a plain file name ending in .json',
  },
  TETHER_POOL_CLOSED: { area: 'tasks', meaning: 'the task pool is closed (the service is stopping)' },
  TETHER_POOL_TASK_FAILED: {
    area: 'tasks',
    meaning: 'a pool worker failed or exited while running a task (the pool replaces it)',
  },
  // blocks API (contracts/blocks.ts)
  TETHER_BLOCK_NAME_NOT_FOUND: { area: 'blocks', meaning: 'no block by that name on this controller' },
  TETHER_BLOCK_NAME_TAKEN: { area: 'blocks', meaning: 'another block of this controller has that name' },
  TETHER_BLOCK_NAME_INVALID: { area: 'blocks', meaning: 'a block name that cannot be used' },
  TETHER_SYSTEM_BLOCK: { area: 'blocks', meaning: 'system blocks (ids 1..99) cannot be deleted or renamed' },
  // simulator
  TETHER_SOCAT_MISSING: { area: 'sim', meaning: 'socat is not installed' },
  TETHER_PTY_FAILED: { area: 'sim', meaning: 'a pseudo-terminal pair could not be made' },
  TETHER_SIM_CLOSED: { area: 'sim', meaning: 'the simulator is closed' },
  // HTTP API
  TETHER_HTTP_NOT_FOUND: { area: 'http', meaning: 'no such route' },
  TETHER_HTTP_METHOD_NOT_ALLOWED: { area: 'http', meaning: 'the route does not take that method' },
  TETHER_HTTP_INVALID_BODY: { area: 'http', meaning: 'the request body is not valid' },
  TETHER_HTTP_UNSUPPORTED_MEDIA_TYPE: { area: 'http', meaning: 'state changes take application/json only' },
  TETHER_HTTP_BODY_TOO_LARGE: { area: 'http', meaning: 'the request body is too large' },
  TETHER_HTTP_HOST_NOT_ALLOWED: {
    area: 'http',
    meaning: 'the Host header names none of the allowed hosts (DNS rebinding)',
  },
  TETHER_HTTP_ORIGIN_NOT_ALLOWED: {
    area: 'http',
    meaning: 'the request comes from a web page of another origin',
  },
  TETHER_HTTP_UNAUTHORIZED: { area: 'http', meaning: 'a token is required and was missing or wrong' },
  TETHER_HTTP_TOO_MANY_STREAMS: { area: 'http', meaning: 'too many event streams are open' },
  TETHER_HTTP_EXPOSED_WITHOUT_TOKEN: { area: 'http', meaning: 'a non-loopback address needs a token' },
  TETHER_HTTP_BAD_REQUEST: { area: 'http', meaning: 'the request is not well-formed HTTP' },
  TETHER_HTTP_HEADERS_TOO_LARGE: { area: 'http', meaning: "the request's head is too large" },
  TETHER_HTTP_REQUEST_TIMEOUT: { area: 'http', meaning: 'the request did not arrive in time' },
  TETHER_SHUTTING_DOWN: { area: 'http', meaning: 'the service is shutting down' },
  TETHER_UNHEALTHY: { area: 'http', meaning: 'the supervision tree is not healthy' },
  TETHER_UNREADY: { area: 'http', meaning: 'the service is not ready' },
  TETHER_INTERNAL: { area: 'http', meaning: 'an unexpected error (see the service log)' },
  // USB bridge
} as const satisfies Record<`TETHER_${string}`, { area: string; meaning: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/** True when `code` is in the catalogue (a code read from the wire or another thread). */
export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CATALOGUE, code);
}
