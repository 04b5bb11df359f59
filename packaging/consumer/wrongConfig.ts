// Must NOT compile: a misspelt config field has to be a type error, not silently `any`.
import { initPixstoreBackend } from 'pixstore/backend'

await initPixstoreBackend({ imageRootDri: 'images' })
