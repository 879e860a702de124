import { defineConfig } from "vite";

// Served by the Flask service at /console/ (app/blueprints/console.py), from dist/.
export default defineConfig({
  base: "/console/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // The Content-Security-Policy allows this server's files only: no data: URLs.
    assetsInlineLimit: 0,
    // Every browser the console supports preloads modules itself: no polyfill shipped.
    modulePreload: { polyfill: false },
  },
});
