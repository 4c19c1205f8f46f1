export const greeting = "hello from shared";
