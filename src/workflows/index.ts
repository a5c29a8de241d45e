// Every workflow type the ateflow worker registers.
export {};
