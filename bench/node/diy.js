'use strict'
// The benchmark's hooks for the Node reference: the same results as
// bench/extensions/diy/hooks.py, in the reference's callback style.

exports.hooks = {
  echo (options, callback) {
    callback(null, options.data)
  },

  asyncEcho (options, callback) {
    callback(null, options.data)
  },

  preSavePage (options, callback) {
    const kept = options.data.filter((record) => record.status !== 'deleted')
    callback(null, {
      data: kept,
      errors: options.errors || [],
      abort: false,
      newErrorsAndRetryData: []
    })
  },

  preMap (options, callback) {
    const mapped = options.data.map((record) => {
      const out = Object.assign({}, record)
      out.email = record.email.trim().toLowerCase()
      out.fullName = record.firstName + ' ' + record.lastName
      out.totalCents = record.quantity * record.priceCents
      out.tagCount = record.tags.length
      out.country = record.address.country.toUpperCase()
      return { data: out }
    })
    callback(null, mapped)
  }
}
