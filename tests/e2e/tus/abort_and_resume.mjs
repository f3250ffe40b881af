// tus-js-client (pinned in package.json), speaking draft-ietf-httpbis-resumable-upload-05
// (`ietf-draft-05`): upload a file, abort once `ABORT_AFTER` bytes are sent, then resume it the
// way an application would (findPreviousUploads + resumeFromPreviousUpload) and print the
// final answer's body (the object) as the last line of output.
//
// env: BUCKETD_HTTP_URL, BUCKETD_API_KEY, BUCKETD_NAMESPACE, FILE, SOURCE (buffer | file),
//      PROTOCOL (tus-js-client's: ietf-draft-05 unless set; tus-v1 is its default),
//      ABORT_AFTER, URL_STORAGE (a JSON file for the stored upload URLs), and optionally
//      CHUNK_SIZE, DURING_CREATION (1: `uploadDataDuringCreation`, the first chunk in the
//      creating POST; its answer's Upload-Offset is printed as "created with N bytes")
import { createReadStream, readFileSync } from 'node:fs'
import { FileUrlStorage, Upload } from 'tus-js-client'

const env = process.env
const abortAfter = Number(env.ABORT_AFTER)
const input = () => (env.SOURCE === 'buffer' ? readFileSync(env.FILE) : createReadStream(env.FILE))

const options = {
  endpoint: `${env.BUCKETD_HTTP_URL}/v1/buckets/things/objects/upload?property=notes&filename=big.bin`,
  protocol: env.PROTOCOL || 'ietf-draft-05',
  metadata: { filename: 'big.bin', filetype: 'text/plain' },
  headers: { Authorization: `Bearer ${env.BUCKETD_API_KEY}`, 'X-Namespace': env.BUCKETD_NAMESPACE },
  urlStorage: new FileUrlStorage(env.URL_STORAGE),
  storeFingerprintForResuming: true,
  removeFingerprintOnSuccess: true,
  retryDelays: null,
  ...(env.CHUNK_SIZE ? { chunkSize: Number(env.CHUNK_SIZE) } : {}),
  uploadDataDuringCreation: env.DURING_CREATION === '1',
  onAfterResponse(request, response) {
    if (request.getMethod() === 'POST') {
      console.log(`created with ${response.getHeader('Upload-Offset')} bytes`)
    }
  },
}

function firstAttempt() {
  return new Promise((resolve, reject) => {
    const upload = new Upload(input(), {
      ...options,
      onProgress(sent) {
        if (sent >= abortAfter && !upload._aborted) {
          upload.abort().then(() => resolve(sent), reject)
        }
      },
      onError: reject,
      onSuccess: () => reject(new Error('the upload finished before it could be aborted')),
    })
    upload.start()
  })
}

function resumed() {
  return new Promise((resolve, reject) => {
    let from = null
    const upload = new Upload(input(), {
      ...options,
      onProgress(sent) {
        if (from === null) {
          from = sent // the offset HEAD answered: where the append starts
          console.log(`resumed from ${from}`)
        }
      },
      onError: reject,
      onSuccess: ({ lastResponse }) => resolve(lastResponse.getBody()),
    })
    upload.findPreviousUploads().then((previous) => {
      if (previous.length !== 1) {
        reject(new Error(`expected one upload to resume, found ${previous.length}`))
        return
      }
      upload.resumeFromPreviousUpload(previous[0])
      upload.start()
    }, reject)
  })
}

const sent = await firstAttempt()
console.log(`aborted after ${sent} bytes sent`)
const body = await resumed()
console.log(body)
