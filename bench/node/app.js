// The express-session peer for `make bench`, on connect-memcached or (issue
// 15) connect-redis: the same routes as the C demo and the Tornado recipe,
// configured as their docs recommend for a login app.
//
//   node app.js --port P (--memcached HOST:PORT | --redis HOST:PORT)
//               --secret-file F
//
// GET /        the logged-in user's greeting (a read); /login without one
// GET /count   increments session.count (a write)
// GET /ping    no session (the ceiling)
// GET /login   the form; POST /login stores user_name, then redirects to /
//
// resave: false and saveUninitialized: false: a request that changes
// nothing does not rewrite the session; the idle timeout (cookie maxAge)
// is refreshed through the store's touch (connect-memcached implements
// touch as a set of the whole session, connect-redis as an EXPIRE).
'use strict';

const fs = require('fs');
const express = require('express');
const session = require('express-session');
const MemcachedStore = require('connect-memcached')(session);
const RedisStore = require('connect-redis').default;
const { createClient } = require('redis');

const IDLE_TIMEOUT_MS = 1800 * 1000;

function parseArgs(argv) {
  const args = {};
  for (let i = 2; i + 1 < argv.length; i += 2)
    args[argv[i].replace(/^--/, '')] = argv[i + 1];
  if (!args.port || !(args.memcached || args.redis) ||
      !args['secret-file']) {
    console.error('usage: node app.js --port P (--memcached HOST:PORT | ' +
                  '--redis HOST:PORT) --secret-file F');
    process.exit(2);
  }
  return args;
}

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => '&#' + c.charCodeAt(0) + ';');
}

const LOGIN_PAGE = '<!doctype html><html><body>' +
  '<form action="/login" method="post">' +
  'Name: <input type="text" name="name"><input type="submit" value="Sign in">' +
  '</form></body></html>';

// connect-redis as its readme sets it up: one node-redis client, connected
// before the first request (its commands queue until then).
function makeStore(args) {
  if (!args.redis)
    return new MemcachedStore({ hosts: [args.memcached] });
  const client = createClient({ url: 'redis://' + args.redis });
  client.on('error', (err) => console.error('redis:', err.message));
  client.connect();
  return new RedisStore({ client, prefix: 'sess:' });
}

function makeApp(args) {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.get('/ping', (req, res) => res.type('text/plain').send('ok'));
  app.use(session({
    secret: fs.readFileSync(args['secret-file'], 'utf8').trim(),
    store: makeStore(args),
    resave: false,
    saveUninitialized: false,
    rolling: false,
    cookie: { maxAge: IDLE_TIMEOUT_MS, httpOnly: true, sameSite: 'lax' },
  }));
  app.use(express.urlencoded({ extended: false, limit: '4kb' }));
  app.get('/', (req, res) => {
    if (!req.session.user_name) return res.redirect('/login');
    res.send("What's up, " + escapeHtml(req.session.user_name) + '?');
  });
  app.get('/count', (req, res) => {
    req.session.count = (req.session.count || 0) + 1;
    res.type('text/plain').send('count: ' + req.session.count);
  });
  app.get('/login', (req, res) => res.send(LOGIN_PAGE));
  app.post('/login', (req, res, next) => {
    const name = req.body && req.body.name;
    if (!name) return res.status(400).send('Please enter a name.');
    req.session.regenerate((err) => {  // a new id at login
      if (err) return next(err);
      req.session.user_name = name;
      req.session.save((err2) => (err2 ? next(err2) : res.redirect('/')));
    });
  });
  return app;
}

const args = parseArgs(process.argv);
const server = makeApp(args).listen(Number(args.port), '127.0.0.1', () => {
  console.log('node peer on http://127.0.0.1:' + args.port + '/');
});
server.keepAliveTimeout = 60 * 1000;
process.on('SIGTERM', () => process.exit(0));
