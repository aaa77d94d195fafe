// The todo app's server computations in JavaScript, speaking JSON lines over stdin/stdout.
//
// Started as `node todo.js <function>`, one process per computation per run. Each request is
// one line {"id", "computation", "function", "node", "event": {"node", "user", "cause"},
// "inputs": {state name: plain value}}; each reply is one line {"id", "effects": [{"path",
// "op": "set", "value"}]} or {"id", "error": "..."}. The functions must be deterministic: the
// simulation's digest depends on their output.
'use strict';

const readline = require('readline');

const functions = {
  // only the todos of the session's user, in key order (sim.apps.todo.filter_todos_for_user)
  filter_todos_for_user(req) {
    const todos = req.inputs.todos || {};
    const mine = Object.keys(todos).sort().map((k) => todos[k]).filter((t) => t.user === req.event.user);
    return [{path: '/client/my_todos', op: 'set', value: mine}];
  },
  // how many users have todos (sim.apps.todo.calculate_user_count)
  calculate_user_count(req) {
    const users = new Set(Object.values(req.inputs.all_todos || {}).map((t) => t.user));
    return [{path: '/server/user_count', op: 'set', value: users.size}];
  },
};

const name = process.argv[2];
if (!Object.prototype.hasOwnProperty.call(functions, name)) {
  process.stderr.write(`unknown function ${JSON.stringify(name)}; one of ${Object.keys(functions).join(', ')}\n`);
  process.exit(2);
}

const lines = readline.createInterface({input: process.stdin, terminal: false});
lines.on('line', (line) => {
  let reply;
  let id = null;
  try {
    const req = JSON.parse(line);
    id = req.id;
    reply = {id, effects: functions[name](req)};
  } catch (err) {
    reply = {id, error: String(err && err.message || err)};
  }
  process.stdout.write(JSON.stringify(reply) + '\n');
});
lines.on('close', () => process.exit(0));
