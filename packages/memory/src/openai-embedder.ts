import { StorageError } from '@engram/core'
import type { Embedder } from './embedder.js'

/** Options for `createOpenAIEmbedder`. */
export interface OpenAIEmbedderConfig {
  /** The API's base URL, up to and including `/v1`. Default is `https://api.openai.com/v1`. */
  baseURL?: string
  /** The API key, sent as a bearer token. Default is `process.env.OPENAI_API_KEY`. */
  apiKey?: string
  /** The embedding model. Default is `'text-embedding-3-small'`. */
  model?: string
  /** Ask the model for vectors of this length (models that support it). Default is the model's own. */
  dimensions?: number
  /** Texts sent per request. Default is `96`. */
  batchSize?: number
  /** Give up on a request after this many milliseconds. Default is `30000`. */
  timeoutMs?: number
  /** Retries for 429 and 5xx answers, with exponential back-off. Default is `3`. */
  retries?: number
  /** The fetch implementation. Default is the global `fetch`. */
  fetch?: typeof fetch
}

interface EmbeddingResponse {
  data?: Array<{ index: number; embedding: number[] }>
}

/**
 * An embedder for any OpenAI-compatible `/embeddings` endpoint (OpenAI, Azure OpenAI,
 * Ollama, vLLM, LM Studio, …). Texts are sent in batches and the order is kept.
 */
export function createOpenAIEmbedder(config: OpenAIEmbedderConfig = {}): Embedder {
  const baseURL = (config.baseURL ?? 'https://api.openai.com/v1').replace(/\/+$/, '')
  const apiKey =
    config.apiKey ??
    (globalThis as { process?: { env?: Record<string, string> } }).process?.env?.OPENAI_API_KEY
  const model = config.model ?? 'text-embedding-3-small'
  const batchSize = config.batchSize ?? 96
  const retries = config.retries ?? 3
  const timeoutMs = config.timeoutMs ?? 30_000
  const doFetch = config.fetch ?? globalThis.fetch

  async function request(input: string[]): Promise<Float32Array[]> {
    const body = JSON.stringify(
      config.dimensions ? { model, input, dimensions: config.dimensions } : { model, input },
    )
    for (let attempt = 0; ; attempt++) {
      let response: Response
      try {
        response = await doFetch(`${baseURL}/embeddings`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}),
          },
          body,
          signal: AbortSignal.timeout(timeoutMs),
        })
      } catch (error) {
        if (attempt < retries) {
          await backOff(attempt)
          continue
        }
        throw new StorageError(
          'CONNECTION_FAILED',
          `Could not reach the embedding API at ${baseURL}: ${(error as Error).message}`,
          {
            cause: error,
          },
        )
      }
      if ((response.status === 429 || response.status >= 500) && attempt < retries) {
        await backOff(attempt)
        continue
      }
      if (!response.ok) {
        const detail = (await response.text().catch(() => '')).slice(0, 300)
        throw new StorageError(
          response.status === 401 || response.status === 403 ? 'CONNECTION_FAILED' : 'QUERY_FAILED',
          `The embedding API answered ${response.status}${detail ? `: ${detail}` : ''}`,
        )
      }
      const json = (await response.json()) as EmbeddingResponse
      const data = json.data
      if (!Array.isArray(data) || data.length !== input.length) {
        throw new StorageError(
          'QUERY_FAILED',
          `The embedding API returned ${data?.length ?? 'no'} vectors for ${input.length} texts`,
        )
      }
      const out = new Array<Float32Array>(input.length)
      for (const item of data) out[item.index] = Float32Array.from(item.embedding)
      return out
    }
  }

  return async (texts) => {
    const out: Float32Array[] = []
    for (let start = 0; start < texts.length; start += batchSize) {
      out.push(...(await request(texts.slice(start, start + batchSize))))
    }
    return out
  }
}

function backOff(attempt: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 200 * 2 ** attempt))
}
