// Vite's `?raw` imports: a file's text, used to check that docs show the code the tests run.
declare module "*?raw" {
  const content: string;
  export default content;
}
