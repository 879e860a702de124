import { type FormEvent, useState } from "react";

import { call, download, upload } from "../api";
import { Pending } from "../Pending";
import { ProblemMessage } from "../ProblemMessage";
import { useGet } from "../useGet";
import { label, moment } from "../words";
import "./Profile.css";
import { useAction } from "./ProfileAction";
import type { Credential, ProviderDocument } from "./ProfileTypes";

// More than a provider keeps; the API's page size at most.
const PAGE_SIZE = 100;
// A provider's kinds of document (the API's DOCUMENT_TYPES["provider"]).
const KINDS = ["license_copy", "insurance_certificate", "training_certificate"];

function size(bytes: number): string {
  return bytes < 1024 * 1024 ? `${Math.max(1, Math.round(bytes / 1024))} KB` : `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** The provider's documents: GET/POST /api/v1/me/documents, each downloaded from
 * /api/v1/documents/<id>/content and removed with DELETE /api/v1/documents/<id>. */
export function ProfileDocuments({ canUpdate }: { canUpdate: boolean }) {
  const [loaded, reload] = useGet<ProviderDocument[]>(`/api/v1/me/documents?page_size=${PAGE_SIZE}`);
  const [credentials] = useGet<Credential[]>(`/api/v1/me/credentials?page_size=${PAGE_SIZE}`);
  const [notice, setNotice] = useState<string | null>(null);
  const [removing, setRemoving] = useState<string | null>(null);
  const act = useAction();
  const send = useAction();

  function sent(event: FormEvent<HTMLFormElement>): void {
    event.preventDefault();
    const form = event.currentTarget;
    const data = new FormData(form);
    // Fields left empty are not sent: the API takes them as absent, not as blank.
    for (const name of ["credential_id", "expiry_date"]) if (data.get(name) === "") data.delete(name);
    setNotice(null);
    void send.run(async () => {
      const added = await upload<ProviderDocument>("/api/v1/me/documents", data);
      form.reset();
      setNotice(`${added.filename} uploaded.`);
      reload();
    });
  }

  const invalid = (name: string) => send.invalid[name];
  const describedBy = (name: string) => (invalid(name) !== undefined ? `document-${name}-error` : undefined);
  const error = (name: string) =>
    invalid(name) !== undefined && (
      <p id={`document-${name}-error`} className="field-error">
        {invalid(name)}
      </p>
    );

  return (
    <>
      <section className="section" aria-labelledby="documents-heading">
        <h2 id="documents-heading">Your documents</h2>
        {notice !== null && (
          <p className="saved" role="status">
            {notice}
          </p>
        )}
        {act.error !== null && <ProblemMessage error={act.error} />}
        <Pending loaded={loaded} onRetry={reload}>Loading your documents…</Pending>
        {loaded.state === "shown" &&
          (loaded.data.length === 0 ? (
            <p className="empty">You have no document on file yet.</p>
          ) : (
            <div className="table-scroll">
              <table className="rows documents">
                <thead>
                  <tr>
                    <th scope="col">File</th>
                    <th scope="col">Kind</th>
                    <th scope="col">Size</th>
                    <th scope="col">Expiry</th>
                    <th scope="col">Uploaded</th>
                    <th scope="col">Actions</th>
                  </tr>
                </thead>
                <tbody>
                  {loaded.data.map((document) => (
                    <tr key={document.id}>
                      <th scope="row">{document.filename}</th>
                      <td>{label(document.document_type)}</td>
                      <td>{size(document.size_bytes)}</td>
                      <td>{document.expiry_date ?? "—"}</td>
                      <td>{moment(document.created_at)}</td>
                      <td>
                        <div className="actions">
                          <button
                            type="button"
                            className="secondary"
                            onClick={() => void act.run(() => download(`/api/v1/documents/${document.id}/content`, document.filename))}
                          >
                            Download<span className="visually-hidden"> {document.filename}</span>
                          </button>
                          {canUpdate &&
                            (removing === document.id ? (
                              <>
                                <button
                                  type="button"
                                  autoFocus
                                  disabled={act.busy}
                                  onClick={() =>
                                    void act.run(async () => {
                                      await call<void>("DELETE", `/api/v1/documents/${document.id}`);
                                      setRemoving(null);
                                      setNotice(`${document.filename} removed.`);
                                      reload();
                                    })
                                  }
                                >
                                  Remove for good
                                </button>
                                <button type="button" className="secondary" onClick={() => setRemoving(null)}>
                                  Keep
                                </button>
                              </>
                            ) : (
                              <button type="button" className="secondary" onClick={() => setRemoving(document.id)}>
                                Remove<span className="visually-hidden"> {document.filename}</span>
                              </button>
                            ))}
                        </div>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          ))}
      </section>
      {canUpdate && (
        <section className="section" aria-labelledby="upload-heading">
          <h2 id="upload-heading">Upload a document</h2>
          <form onSubmit={sent} noValidate>
            <div className="fields columns2">
              <div>
                <label htmlFor="document-file">File (PDF, PNG or JPEG)</label>
                <input
                  id="document-file"
                  name="file"
                  type="file"
                  accept="application/pdf,image/png,image/jpeg"
                  aria-invalid={invalid("file") !== undefined}
                  aria-describedby={describedBy("file")}
                />
                {error("file")}
              </div>
              <div>
                <label htmlFor="document-document_type">Kind of document</label>
                <select
                  id="document-document_type"
                  name="document_type"
                  aria-invalid={invalid("document_type") !== undefined}
                  aria-describedby={describedBy("document_type")}
                >
                  {KINDS.map((kind) => (
                    <option key={kind} value={kind}>
                      {label(kind)}
                    </option>
                  ))}
                </select>
                {error("document_type")}
              </div>
              <div>
                <label htmlFor="document-credential_id">For the credential</label>
                <select
                  id="document-credential_id"
                  name="credential_id"
                  aria-invalid={invalid("credential_id") !== undefined}
                  aria-describedby={describedBy("credential_id")}
                >
                  <option value="">None</option>
                  {credentials.state === "shown" &&
                    credentials.data.map((credential) => (
                      <option key={credential.id} value={credential.id}>
                        {label(credential.credential_type)} {credential.number ?? credential.specialty ?? ""}
                      </option>
                    ))}
                </select>
                {error("credential_id")}
              </div>
              <div>
                <label htmlFor="document-expiry_date">Expiry date</label>
                <input
                  id="document-expiry_date"
                  name="expiry_date"
                  type="date"
                  aria-invalid={invalid("expiry_date") !== undefined}
                  aria-describedby={describedBy("expiry_date")}
                />
                {error("expiry_date")}
              </div>
            </div>
            {send.error !== null && <ProblemMessage error={send.error} />}
            <div className="actions">
              <button type="submit" disabled={send.busy}>
                {send.busy ? "Uploading…" : "Upload"}
              </button>
            </div>
          </form>
        </section>
      )}
    </>
  );
}
