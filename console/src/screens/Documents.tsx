import { type FormEvent, useRef, useState } from "react";

import { ApiError, call, download, fieldErrors, upload } from "../api";
import { Pending } from "../Pending";
import { ProblemMessage } from "../ProblemMessage";
import type { ScreenProps } from "../screens";
import { useGet } from "../useGet";
import { label, moment } from "../words";
import { TableScroll } from "./Chart";

/** A document as the API gives it (DocumentSchema). */
interface Document {
  id: string;
  organization_id: string | null;
  user_id: string | null;
  credential_id: string | null;
  document_type: string;
  filename: string;
  content_type: string;
  size_bytes: number;
  sha256: string;
  expiry_date: string | null;
  uploaded_by_id: string | null;
  created_at: string;
  updated_at: string;
}

// An organization's document types (app/domain/documents.py, DOCUMENT_TYPES).
const DOCUMENT_TYPES = ["tax_form", "banking_letter"];
// The types the API accepts; it checks the bytes too, and says why it refuses.
const ACCEPTED = "application/pdf,image/png,image/jpeg,.pdf,.png,.jpg,.jpeg";
const PAGE_SIZE = 100;

function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** The organization's documents (tax forms, banking letters): upload, download, delete. */
export function Documents({ organizationId, organizationName }: ScreenProps) {
  const path = `/api/v1/admin/organizations/${encodeURIComponent(organizationId)}/documents`;
  const [loaded, reload] = useGet<Document[]>(`${path}?page_size=${PAGE_SIZE}`);
  const [uploaded, setUploaded] = useState<string | null>(null);

  return (
    <>
      <h1>Documents of {organizationName}</h1>
      <Upload
        path={path}
        onUploaded={(document) => {
          setUploaded(document.filename);
          reload();
        }}
      />
      <p role="status" className="succeeded">
        {uploaded !== null ? `${uploaded} is uploaded.` : ""}
      </p>
      <h2>On file</h2>
      <Pending loaded={loaded} onRetry={reload}>Loading documents…</Pending>
      {loaded.state === "shown" &&
        (loaded.data.length === 0 ? (
          <p className="empty">No documents yet. Upload the organization's tax form or banking letter above.</p>
        ) : (
          <>
            <TableScroll label="Documents on file">
              <table className="records documents">
                <thead>
                  <tr>
                    <th scope="col">File</th>
                    <th scope="col">Type</th>
                    <th scope="col" className="number">Size</th>
                    <th scope="col">Expires</th>
                    <th scope="col">Uploaded</th>
                    <th scope="col">Actions</th>
                  </tr>
                </thead>
                <tbody>
                  {loaded.data.map((document) => (
                    <DocumentRow key={document.id} document={document} onDeleted={reload} />
                  ))}
                </tbody>
              </table>
            </TableScroll>
            {loaded.data.length === PAGE_SIZE && <p className="muted">Showing the newest {PAGE_SIZE}.</p>}
          </>
        ))}
    </>
  );
}

function Upload({ path, onUploaded }: { path: string; onUploaded: (document: Document) => void }) {
  const form = useRef<HTMLFormElement>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const refused = error instanceof ApiError ? fieldErrors(error.problem) : {};
  const named = Object.keys(refused).length > 0;

  async function send(event: FormEvent<HTMLFormElement>): Promise<void> {
    event.preventDefault();
    setError(null);
    setBusy(true);
    try {
      // The form's own fields, by the API's names: file, document_type, expiry_date.
      const data = new FormData(event.currentTarget);
      if (data.get("expiry_date") === "") data.delete("expiry_date");
      const document = await upload<Document>(path, data);
      form.current?.reset();
      onUploaded(document);
    } catch (caught) {
      // What was chosen and typed stays, for another try.
      setError(caught);
    } finally {
      setBusy(false);
    }
  }

  function invalid(name: string) {
    return {
      "aria-invalid": refused[name] !== undefined,
      "aria-describedby": refused[name] !== undefined ? `upload-${name}-error` : undefined,
    };
  }

  function message(name: string) {
    return (
      refused[name] !== undefined && (
        <p id={`upload-${name}-error`} className="field-error">
          {refused[name]}
        </p>
      )
    );
  }

  return (
    <section aria-labelledby="upload">
      <h2 id="upload">Upload a document</h2>
      <form ref={form} className="fields" onSubmit={(event) => void send(event)}>
        <div className="field">
          <label htmlFor="upload-file">File (PDF, PNG or JPEG)</label>
          <input id="upload-file" name="file" type="file" required accept={ACCEPTED} {...invalid("file")} />
          {message("file")}
        </div>
        <div className="field">
          <label htmlFor="upload-document_type">Document type</label>
          <select id="upload-document_type" name="document_type" {...invalid("document_type")}>
            {DOCUMENT_TYPES.map((type) => (
              <option key={type} value={type}>
                {label(type)}
              </option>
            ))}
          </select>
          {message("document_type")}
        </div>
        <div className="field">
          <label htmlFor="upload-expiry_date">Expiry date (optional)</label>
          <input id="upload-expiry_date" name="expiry_date" type="date" {...invalid("expiry_date")} />
          {message("expiry_date")}
        </div>
        <button type="submit" disabled={busy}>
          Upload
        </button>
      </form>
      {error !== null && (named ? <p className="problem" role="alert">The document was not uploaded: see the field marked above.</p> : <ProblemMessage error={error} />)}
    </section>
  );
}

function DocumentRow({ document, onDeleted }: { document: Document; onDeleted: () => void }) {
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  async function fetchFile(): Promise<void> {
    setError(null);
    try {
      await download(`/api/v1/documents/${document.id}/content`, document.filename);
    } catch (caught) {
      setError(caught);
    }
  }

  async function remove(): Promise<void> {
    setError(null);
    setBusy(true);
    try {
      await call<undefined>("DELETE", `/api/v1/documents/${document.id}`);
      onDeleted();
    } catch (caught) {
      setError(caught);
      setConfirming(false);
    } finally {
      setBusy(false);
    }
  }

  return (
    <tr>
      <th scope="row">{document.filename}</th>
      <td>{label(document.document_type)}</td>
      <td className="number">{size(document.size_bytes)}</td>
      <td>{document.expiry_date ?? "—"}</td>
      <td>{moment(document.created_at)}</td>
      <td>
        <div className="actions">
          <button type="button" className="secondary" onClick={() => void fetchFile()}>
            Download<span className="visually-hidden"> {document.filename}</span>
          </button>
          {!confirming && (
            <button type="button" className="secondary" onClick={() => setConfirming(true)}>
              Delete<span className="visually-hidden"> {document.filename}</span>
            </button>
          )}
        </div>
        {confirming && (
          <div className="confirm">
            <p>Delete {document.filename} and its file for good?</p>
            <div className="actions">
              <button type="button" className="danger" autoFocus disabled={busy} onClick={() => void remove()}>
                Yes, delete
              </button>
              <button type="button" className="secondary" onClick={() => setConfirming(false)}>
                Cancel
              </button>
            </div>
          </div>
        )}
        {error !== null && <ProblemMessage error={error} />}
      </td>
    </tr>
  );
}
