import { defineConfig } from 'vite';
import vue from '@vitejs/plugin-vue';

// The page is served by nginx at / on the same origin as /backups, so the
// build uses relative asset paths and the API is reached at /backups.
export default defineConfig({
	base: './',
	plugins: [vue()],
	build: {
		outDir: 'dist',
		emptyOutDir: true,
	},
	test: {
		environment: 'jsdom',
		include: ['tests/**/*.test.js'],
	},
});
