'use strict'
// The Node reference host for the benchmark: integrator-extension 0.3.12 behind
// Express 4.21, set up as the published server host is (docs/integrator-io.md): a JSON body
// parser with a 50 MB limit, one express-winston line per finished request, the
// bearer check, and the reference's keep-alive and request timeouts.
// Environment: PORT, INTEGRATOR_EXTENSION_SYSTEM_TOKEN.

const bodyParser = require('body-parser')
const express = require('express')
const expressWinston = require('express-winston')
const winston = require('winston')
const Extension = require('integrator-extension')

const diy = require('./diy')

const systemToken = process.env.INTEGRATOR_EXTENSION_SYSTEM_TOKEN
const port = Number(process.env.PORT || 8080)

const extension = new Extension()
extension.loadConfiguration({ diy }, (err) => {
  if (err) throw new Error(err.message)
})

function requestId () {
  return Date.now() + Math.random().toString(36).slice(2, 6)
}

function givenToken (req) {
  const header = req.get('authorization')
  if (header) {
    const parts = header.split(' ')
    return parts.length === 2 && parts[0].toLowerCase() === 'bearer' ? parts[1] : undefined
  }
  return (req.body && req.body.access_token) || req.query.access_token
}

const app = express()
app.use((req, res, next) => {
  req._reqId = requestId()
  next()
})
app.use(bodyParser.json({ limit: '50mb' }))
app.use(expressWinston.logger({
  transports: [new winston.transports.Console()],
  format: winston.format.printf((info) => info.message),
  meta: false,
  msg: (req, res) => 'logName=reqFinished, method=' + req.method + ', url=' + req.originalUrl +
    ', statusCode=' + res.statusCode + ', responseTime=' + res.responseTime + 'ms, _reqId=' +
    req._reqId + ', traceId=' + req.get('traceid')
}))

app.get(['/', '/healthCheck'], (req, res) => res.json({ success: true }))

app.post('/function', (req, res) => {
  if (givenToken(req) !== systemToken) {
    res.set('WWW-Authenticate', 'invalid system token')
    return res.status(401).json({ errors: [{ code: 'unauthorized', message: 'Invalid system token.' }] })
  }
  const envelope = req.body || {}
  const extensionOptions = Object.assign({}, envelope, {
    _reqId: req._reqId,
    traceId: req.get('traceid')
  })
  delete extensionOptions.options
  extension.callFunction(envelope.options, extensionOptions, (err, result) => {
    if (err) return res.status(err.statusCode || 422).json({ errors: err.errors })
    if (result === undefined) return res.type('json').end()
    return res.json(result)
  })
})

const server = app.listen(port, '127.0.0.1', () => {
  console.log('listening on ' + port)
})
server.setTimeout(315 * 1000)
server.keepAliveTimeout = 301 * 1000
server.headersTimeout = 305 * 1000

process.on('SIGTERM', () => process.exit(0))
