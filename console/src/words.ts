// How the API's codes read to a person.

/** "basic_information" -> "Basic information". */
export function label(code: string): string {
  const words = code.replaceAll("_", " ").replaceAll("-", " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** A score out of 100, or a dash where there is nothing to score yet. */
export function score(value: number | null): string {
  return value === null ? "—" : `${value}%`;
}

const when = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

export function moment(iso: string): string {
  return when.format(new Date(iso));
}
