import type { InputHTMLAttributes } from "react";

type FieldProps = {
  name: string;
  label: string;
  value: string;
  onChange: (value: string) => void;
  /** What the API said is wrong with it, if anything. */
  error?: string;
} & Pick<InputHTMLAttributes<HTMLInputElement>, "type" | "inputMode" | "autoComplete" | "autoFocus" | "required">;

/** A labelled input that keeps its value and names what is wrong with it, beside it. */
export function Field({ name, label, value, onChange, error, ...input }: FieldProps) {
  const errorId = `${name}-error`;
  return (
    <>
      <label htmlFor={name}>{label}</label>
      <input
        id={name}
        name={name}
        value={value}
        onChange={(event) => onChange(event.target.value)}
        aria-invalid={error !== undefined}
        aria-describedby={error !== undefined ? errorId : undefined}
        required
        {...input}
      />
      {error !== undefined && (
        <p id={errorId} className="field-error">
          {error}
        </p>
      )}
    </>
  );
}
