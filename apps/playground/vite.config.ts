import { defineConfig } from 'vite'

export default defineConfig({
  // Relative asset URLs, so dist/ works from any folder of any static server.
  base: './',
})
