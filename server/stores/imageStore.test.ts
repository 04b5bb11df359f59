// The ImageStore contract, run against every store: what the backend relies on.
import assert from 'node:assert/strict'
import { after, afterEach, beforeEach, describe, it } from 'node:test'
import { PixstoreState } from '../../protocol/wire'
import { PixstoreBackend } from '../backend'
import { resolveConfig } from '../config'
import { fixtureImages, readFixture, STORE_KINDS, storeConfig, TEST_SECRET } from '../../testing/testSupport'
import type { ImageStore, NewImageVersion } from './imageStore'
import { openImageStore } from './openImageStore'

const version = (fill: number, token?: number): NewImageVersion => ({
  ciphertext: new Uint8Array(64 + fill).fill(fill),
  meta: { key: new Uint8Array(32).fill(fill), iv: new Uint8Array(12).fill(fill), tag: new Uint8Array(16).fill(fill) },
  format: 1,
  size: 63 + fill,
  ...(token === undefined ? {} : { token }),
})

async function collect(ids: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = []
  for await (const id of ids) out.push(id)
  return out
}

for (const kind of STORE_KINDS) {
  describe(`ImageStore contract: ${kind}`, () => {
    let store: ImageStore
    let cleanup: () => void
    beforeEach(async () => {
      const temp = await storeConfig(kind)
      cleanup = temp.cleanup
      store = openImageStore(resolveConfig(temp.config, {}))
      await store.open()
    })
    afterEach(async () => {
      await store.close()
      cleanup()
    })

    it('stores meta and ciphertext of one version together', async () => {
      const saved = await store.insert('album:one', version(1))
      assert.equal(saved.id, 'album:one')
      assert.equal(typeof saved.token, 'number')
      const got = (await store.get('album:one'))!
      assert.equal(got.token, saved.token)
      assert.deepEqual(new Uint8Array(got.key), version(1).meta.key)
      assert.deepEqual(new Uint8Array(got.iv), version(1).meta.iv)
      assert.deepEqual(new Uint8Array(got.tag), version(1).meta.tag)
      assert.equal(got.format, 1)
      assert.equal(got.size, 64)
      const read = (await store.read('album:one'))!
      assert.deepEqual(new Uint8Array(read.ciphertext), version(1).ciphertext)
      assert.equal(read.image.token, saved.token)
      assert.equal(await store.has('album:one'), true)
      assert.equal(await store.has('album:two'), false)
      assert.equal(await store.get('album:two'), null)
      assert.equal(await store.read('album:two'), null)
    })

    it('refuses a second insert of an id and keeps the first version', async () => {
      await store.insert('dup', version(1))
      await assert.rejects(store.insert('dup', version(2)))
      assert.deepEqual(new Uint8Array((await store.read('dup'))!.ciphertext), version(1).ciphertext)
    })

    it('switches versions with strictly increasing tokens, and keeps a given token', async () => {
      const first = await store.insert('img', version(1))
      const tokens = [first.token]
      for (let i = 2; i < 12; i++) tokens.push((await store.replace('img', version(i)))!.token)
      for (let i = 1; i < tokens.length; i++) assert.ok(tokens[i]! > tokens[i - 1]!, `token ${i} increases`)
      const read = (await store.read('img'))!
      assert.deepEqual(new Uint8Array(read.ciphertext), version(11).ciphertext)
      assert.equal(read.image.token, tokens.at(-1))
      assert.equal((await store.replace('img', version(3, 42)))!.token, 42, 'migrations keep tokens')
      assert.equal((await store.insert('kept', version(4, 1234567890123)))!.token, 1234567890123)
      assert.equal((await store.get('kept'))!.token, 1234567890123)
      assert.equal(await store.replace('ghost', version(1)), null)
      assert.equal(await store.has('ghost'), false)
    })

    it('takes the ciphertext in chunks, reading meta only once every chunk was taken', async () => {
      const parts = [new Uint8Array(5).fill(1), new Uint8Array(300).fill(2), new Uint8Array(1).fill(3)]
      let taken = 0
      const chunked: NewImageVersion = {
        ...version(9),
        ciphertext: (function* () {
          for (const part of parts) yield (taken++, part)
        })(),
        get meta() {
          assert.equal(taken, parts.length, 'meta read before every chunk was taken')
          return version(9).meta
        },
      }
      await store.insert('chunked', chunked)
      assert.deepEqual(new Uint8Array((await store.read('chunked'))!.ciphertext), new Uint8Array(Buffer.concat(parts)))
      assert.deepEqual(new Uint8Array((await store.get('chunked'))!.tag), version(9).meta.tag)
    })

    it('commits nothing when validate throws, after the bytes were produced', async () => {
      const refused = (fill: number): NewImageVersion => ({
        ...version(fill),
        validate: () => {
          throw new Error(`refused ${fill}`)
        },
      })
      await assert.rejects(store.insert('checked', refused(1)), /refused 1/)
      assert.equal(await store.has('checked'), false)
      const kept = await store.insert('checked', version(2))
      await assert.rejects(store.replace('checked', refused(3)), /refused 3/)
      const read = (await store.read('checked'))!
      assert.equal(read.image.token, kept.token)
      assert.deepEqual(new Uint8Array(read.ciphertext), version(2).ciphertext)
    })

    it('replaceKey swaps only the key, only while the row holds what was read; key checks are added and replaced', async () => {
      const saved = await store.insert('keyed', version(1))
      const wrapped = new Uint8Array(69).fill(7)
      assert.equal(await store.replaceKey('keyed', saved.token, version(1).meta.key, wrapped), true)
      const got = (await store.get('keyed'))!
      assert.deepEqual(new Uint8Array(got.key), wrapped)
      assert.deepEqual([got.token, new Uint8Array(got.iv), new Uint8Array(got.tag)], [saved.token, version(1).meta.iv, version(1).meta.tag], 'nothing else changed')
      assert.deepEqual(new Uint8Array((await store.read('keyed'))!.ciphertext), version(1).ciphertext)
      assert.equal(await store.replaceKey('keyed', saved.token, version(1).meta.key, new Uint8Array(69)), false, 'the key changed since it was read')
      const replaced = (await store.replace('keyed', version(2)))!
      assert.equal(await store.replaceKey('keyed', saved.token, wrapped, new Uint8Array(69)), false, 'a newer version since it was read')
      assert.deepEqual(new Uint8Array((await store.get('keyed'))!.key), version(2).meta.key)
      assert.equal(await store.replaceKey('ghost', replaced.token, version(2).meta.key, wrapped), false)

      assert.deepEqual(await store.keyChecks(), [])
      await store.writeKeyChecks([Buffer.from('one'), Buffer.from('two')], 'add')
      await store.writeKeyChecks([Buffer.from('three')], 'add')
      assert.deepEqual((await store.keyChecks()).map(String), ['one', 'two', 'three'])
      await store.writeKeyChecks([Buffer.from('four')], 'replace')
      assert.deepEqual((await store.keyChecks()).map(String), ['four'])
    })

    it('deletes', async () => {
      await store.insert('gone', version(1))
      assert.equal(await store.delete('gone'), true)
      assert.equal(await store.has('gone'), false)
      assert.equal(await store.read('gone'), null)
      assert.equal(await store.delete('gone'), false)
    })

    it('lists every id once in a stable order, across pages', async () => {
      const ids = Array.from({ length: 1100 }, (_, i) => `d${i % 3}:n${String(i).padStart(4, '0')}`)
      for (const id of ids) await store.insert(id, version(1))
      const listed = await collect(store.ids())
      assert.deepEqual(listed, [...ids].sort())
    })

    it('never pairs meta with another version\'s ciphertext under concurrent replaces', async () => {
      await store.insert('busy', version(0))
      const writes = Array.from({ length: 20 }, (_, i) => store.replace('busy', version(1 + (i % 5))))
      const reads = Array.from({ length: 60 }, () => store.read('busy'))
      const [written, seen] = await Promise.all([Promise.all(writes), Promise.all(reads)])
      assert.equal(new Set(written.map((w) => w!.token)).size, 20, 'every replace got its own token')
      for (const read of seen) {
        const fill = read!.ciphertext[0]!
        assert.equal(read!.ciphertext.length, 64 + fill)
        assert.ok(read!.image.key.every((byte) => byte === fill), 'key belongs to the same version as the ciphertext')
      }
    })
  })

  describe(`PixstoreBackend on the ${kind} store`, () => {
    const backends: PixstoreBackend[] = []
    const cleanups: (() => void)[] = []
    after(async () => {
      for (const backend of backends) await backend.close()
      cleanups.forEach((cleanup) => cleanup())
    })
    const create = async () => {
      const temp = await storeConfig(kind)
      cleanups.push(temp.cleanup)
      const backend = new PixstoreBackend({ ...temp.config, statelessProofSecret: TEST_SECRET, errorHandlingMode: 'silent' }, { env: {} })
      backends.push(backend)
      return backend
    }

    it('works without open(): the store gets ready on first use', async () => {
      const backend = await create()
      const image = readFixture(fixtureImages('png')[0]!)
      const record = (await backend.saveImage(image))!
      assert.ok(record, String(backend.lastError))
      assert.equal(await backend.imageExists(record.id), true)
      assert.equal((await backend.customEndpointHelper(record.id, String(record.token), record.statelessProof))[0], PixstoreState.Success)
    })

    it('stores nothing for refused input, and refuses invalid ids', async () => {
      const backend = await create()
      await backend.open()
      assert.equal(await backend.saveImage(Buffer.from('not an image')), null)
      assert.match(backend.lastError!.message, /Invalid image file/)
      assert.equal(await backend.saveImage(readFixture(fixtureImages('png')[0]!), '../etc'), null)
      assert.deepEqual(await collect(backend.store.ids()), [])
      assert.equal(await backend.updateImage('../x', readFixture(fixtureImages('png')[0]!)), null)
      assert.equal(await backend.deleteImage('../x'), null)
      assert.equal(await backend.getImageRecord('../x'), null)
      assert.equal(await backend.imageExists('../x'), false)
    })

    it('never stores the plaintext', async () => {
      const backend = await create()
      const original = readFixture(fixtureImages('png')[0]!)
      const record = (await backend.saveImage(original))!
      const { ciphertext } = (await backend.store.read(record.id))!
      assert.equal(ciphertext.includes(original.subarray(0, 32)), false)
      assert.equal(ciphertext.length, original.length + 1, 'format byte + image, AES-GCM adds no padding')
    })
  })
}
